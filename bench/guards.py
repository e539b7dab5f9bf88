"""Guard reads: OFREP evaluations over loopback HTTP, and the SDK's cached guard.

    .venv/bin/python bench/guards.py           # a few minutes
    .venv/bin/python bench/guards.py --quick   # under a minute

OFREP: a real `fireline serve` (detection ticking, as by default) pinned to one core answers
POST /ofrep/v1/evaluate/flags/{key} with an app token, once with `--no-access-log` (the
headline: what usage.md advises for many small requests) and once as by default (a log line
per request). The client, pinned to the other core, is asyncio over raw kept-alive HTTP/1.1
connections, so that it costs little next to the server. Steady rate: a request is due every
millisecond (open loop) and goes out on an idle connection, or a new one when all are busy,
so a slow answer never holds the next requests back (no coordinated omission); latency is
from its write to its answer, and how late writes were against their schedule is reported
too (`send_lag_*`: the client's own timer granularity). Maximum rate: CONCURRENCY
connections each sending as soon as their previous answer arrived (closed loop). Keys cycle
over three flags of guarded features (one a kill switch with a probe share, so the probe
hash runs) and a thousand targeting keys. SDK: `FirelineClient.guard` and
`should_call_model` with a warm cache, a million calls each. Results: bench/results/guards.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from servers import FIRELINE, LOOPBACK, Server, _wait_healthy, free_port, issue_app_token, pinned

RESULTS = Path(__file__).parent / "results" / "guards.json"
TARGETS = {"ofrep_p99_ms": 5.0, "sdk_eval_us": 2.0}
FULL = {"steady_s": 20.0, "max_s": 10.0, "repetitions": 3, "sdk_calls": 1_000_000}
QUICK = {"steady_s": 5.0, "max_s": 3.0, "repetitions": 1, "sdk_calls": 1_000_000}
RATE = 1_000
CONCURRENCY = 8
WARMUP_S = 1.0
FLAGS = ("support-bot.enabled", "summarizer.mode", "search.level")
USERS = 1_000


def cores() -> tuple[int | None, int | None]:
    """(server core, client core): the last usable core serves, the first one sends."""
    usable = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(usable) < 2:
        return (usable[0] if usable else None), None
    return usable[-1], usable[0]


def put_guards(data_dir: Path) -> None:
    """A kill switch with a 5 % probe share, a warning and a fallback."""
    from fireline.domain.guard import ContainmentLevel, Guard
    from fireline.runtime import Fireline
    from fireline.settings import Settings

    now = datetime.now(UTC) - timedelta(minutes=1)
    instance = Fireline(Settings(data_dir=data_dir))
    try:
        with instance.state.unit_of_work() as tx:
            for feature, level, probe in (
                ("support-bot", ContainmentLevel.FEATURE_DISABLED, 0.05),
                ("summarizer", ContainmentLevel.WARN, 0.0),
                ("search", ContainmentLevel.FALLBACK, 0.0),
            ):
                tx.put_guard(Guard(feature, level, "bench", None, probe, "bench", now))
    finally:
        instance.close()


def requests(port: int, token: str, count: int) -> list[bytes]:
    """`count` distinct OFREP single-evaluation requests, as raw HTTP/1.1 bytes."""
    out = []
    for n in range(count):
        key = FLAGS[n % len(FLAGS)]
        body = json.dumps({"context": {"targetingKey": f"user-{n % USERS}"}}).encode()
        head = (
            f"POST /ofrep/v1/evaluate/flags/{key} HTTP/1.1\r\nHost: {LOOPBACK}:{port}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        out.append(head.encode() + body)
    return out


class Connection:
    """One kept-alive HTTP/1.1 connection that sends a request and reads its answer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        return cls(*await asyncio.open_connection(LOOPBACK, port))

    async def send(self, request: bytes) -> int:
        """The answer's status (its body is read and dropped)."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


class Pool:
    """Idle connections; a new one is opened when all are busy."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.idle: list[Connection] = []
        self.opened = 0
        self.reopened = 0

    async def take(self) -> Connection:
        if self.idle:
            return self.idle.pop()
        self.opened += 1
        return await Connection.open(self.port)

    def close(self) -> None:
        for connection in self.idle:
            connection.close()


async def steady(port: int, bodies: list[bytes], rate: float, seconds: float) -> dict[str, Any]:
    """Open loop at `rate` a second: latencies from each request's scheduled time."""
    pool = Pool(port)
    latencies: list[float] = []
    lags: list[float] = []
    failures: list[int] = []

    async def one(request: bytes, due: float) -> None:
        connection = await pool.take()
        sent = time.perf_counter()
        lags.append(sent - due)
        try:
            status = await connection.send(request)
        except (asyncio.IncompleteReadError, ConnectionError):
            # uvicorn closes connections idle for 5 s: a pooled one may have gone.
            connection.close()
            pool.reopened += 1
            connection = await Connection.open(port)
            sent = time.perf_counter()
            status = await connection.send(request)
        latencies.append(time.perf_counter() - sent)
        pool.idle.append(connection)
        if status != 200:
            failures.append(status)

    total = int(rate * seconds)
    tasks = []
    began = time.perf_counter() + 0.05
    for n in range(total):
        due = began + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(bodies[n % len(bodies)], due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - began
    pool.close()
    if failures:
        raise RuntimeError(f"{len(failures)} evaluations failed, e.g. HTTP {failures[0]}")
    return {
        "requests": total,
        "achieved_per_s": round(total / elapsed, 1),
        "connections": pool.opened,
        "reconnections": pool.reopened,
        **_percentiles(latencies),
        **{f"send_lag_{k}": v for k, v in _percentiles(lags).items() if k in ("p50_ms", "p99_ms")},
    }


async def saturated(port: int, bodies: list[bytes], seconds: float) -> dict[str, Any]:
    """Closed loop on CONCURRENCY connections: answered evaluations a second."""
    latencies: list[float] = []
    failures: list[int] = []
    stop = time.perf_counter() + seconds

    async def worker(offset: int) -> int:
        connection = await Connection.open(port)
        n = offset
        while time.perf_counter() < stop:
            sent = time.perf_counter()
            status = await connection.send(bodies[n % len(bodies)])
            latencies.append(time.perf_counter() - sent)
            if status != 200:
                failures.append(status)
            n += CONCURRENCY
        connection.close()
        return n

    began = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(CONCURRENCY)))
    elapsed = time.perf_counter() - began
    if failures:
        raise RuntimeError(f"{len(failures)} evaluations failed, e.g. HTTP {failures[0]}")
    return {
        "requests": len(latencies),
        "per_s": round(len(latencies) / elapsed, 1),
        "concurrency": CONCURRENCY,
        **_percentiles(latencies),
    }


def _percentiles(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3)

    return {"p50_ms": at(0.50), "p90_ms": at(0.90), "p99_ms": at(0.99), "max_ms": at(1.0)}


@contextmanager
def serve(data_dir: Path, core: int | None, *options: str) -> Iterator[Server]:
    """`fireline serve` with `options` on a free loopback port, pinned to `core`."""
    port = free_port()
    log = data_dir / f"serve-{port}.log"
    command = [*FIRELINE, "--data-dir", str(data_dir), "serve", "--host", LOOPBACK]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--port", str(port), *options],
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=pinned(core),
        )
    server = Server(process, f"http://{LOOPBACK}:{port}", log)
    try:
        _wait_healthy(server, timeout=60)
        yield server
    finally:
        server.stop()


def bench_ofrep(
    data_dir: Path, token: str, size: dict[str, Any], core: int | None, *options: str
) -> dict[str, Any]:
    """Steady-rate and maximum-rate runs against one server started with `options`."""
    with serve(data_dir, core, *options) as server:
        port = int(server.url.rsplit(":", 1)[1])
        bodies = requests(port, token, 3 * USERS)
        asyncio.run(steady(port, bodies, RATE, WARMUP_S))
        runs, maxima = [], []
        for n in range(size["repetitions"]):
            runs.append(asyncio.run(steady(port, bodies, RATE, size["steady_s"])))
            print(f"  steady #{n + 1}: {runs[-1]}", flush=True)
            maxima.append(asyncio.run(saturated(port, bodies, size["max_s"])))
            print(f"  max #{n + 1}: {maxima[-1]}", flush=True)
    return {
        "options": list(options),
        "p50_ms": statistics.median(r["p50_ms"] for r in runs),
        "p99_ms": statistics.median(r["p99_ms"] for r in runs),
        "max_per_s": round(statistics.median(m["per_s"] for m in maxima)),
        "steady": runs,
        "max": maxima,
    }


def sdk_cost(url: str, token: str, calls: int, repetitions: int) -> dict[str, Any]:
    """Microseconds per cached `guard()` and `should_call_model()` on a warm cache."""
    from fireline.sdk import FirelineClient

    samples: dict[str, list[float]] = {"guard": [], "should_call_model": []}
    with FirelineClient(url, token, guard_ttl=3600) as client:
        first = client.guard("support-bot")
        if first.source != "fireline" or first.level != 4:
            raise RuntimeError(f"the SDK did not read the guard: {first}")
        for _ in range(repetitions):
            for name, read in (
                ("guard", client.guard),
                ("should_call_model", client.should_call_model),
            ):
                began = time.perf_counter()
                for _ in range(calls):
                    read("support-bot")
                samples[name].append((time.perf_counter() - began) / calls * 1e6)
    return {
        "calls": calls,
        "repetitions": repetitions,
        **{f"{name}_us": round(statistics.median(s), 3) for name, s in samples.items()},
        "samples_us": {name: [round(x, 3) for x in s] for name, s in samples.items()},
        "how": "FirelineClient(url, token, guard_ttl=3600) on the live server, one read to "
        "warm the cache, then a million calls in a loop (loop overhead included)",
    }


def machine() -> dict[str, Any]:
    import fastapi
    import uvicorn

    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "fastapi": fastapi.__version__,
        "uvicorn": uvicorn.__version__,
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "note": "a shared 2-core virtual machine: expect run-to-run noise of 10-20 %",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, one repetition")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    size = QUICK if args.quick else FULL
    server_core, client_core = cores()
    if client_core is not None:
        os.sched_setaffinity(0, {client_core})
    started = time.perf_counter()
    results: dict[str, Any] = {"mode": "quick" if args.quick else "full", "machine": machine()}
    with tempfile.TemporaryDirectory(prefix="fireline-bench-") as temp:
        data_dir = Path(temp)
        token = issue_app_token(data_dir)
        put_guards(data_dir)
        configs = {}
        for name, options in (("no_access_log", ("--no-access-log",)), ("default", ())):
            print(f"OFREP, fireline serve {' '.join(options)}: {RATE}/s, then max", flush=True)
            configs[name] = bench_ofrep(data_dir, token, size, server_core, *options)
        print(f"SDK: {size['sdk_calls']:,} cached reads", flush=True)
        with serve(data_dir, server_core, "--no-access-log") as server:
            sdk = sdk_cost(server.url, token, size["sdk_calls"], max(3, size["repetitions"]))
    headline = configs["no_access_log"]
    results |= {
        "ofrep_p50_ms": headline["p50_ms"],
        "ofrep_p99_ms": headline["p99_ms"],
        "ofrep_max_per_s": headline["max_per_s"],
        "ofrep_access_log_p99_ms": configs["default"]["p99_ms"],
        "ofrep_access_log_max_per_s": configs["default"]["max_per_s"],
        "sdk_eval_us": sdk["guard_us"],
        "sdk_should_call_model_us": sdk["should_call_model_us"],
    }
    results["targets"] = {
        name: {"target": target, "measured": results[name], "met": results[name] < target}
        for name, target in TARGETS.items()
    }
    results["ofrep"] = {
        "server": "`python -m fireline --data-dir DIR serve` (uvicorn, detection ticking), an "
        "API token with role app, three guards; headline `--no-access-log`, `default` with "
        "uvicorn's access log line per request",
        "rate_per_s": RATE,
        "steady_s": size["steady_s"],
        "max_s": size["max_s"],
        "by_server_options": configs,
        "flags": FLAGS,
        "targeting_keys": USERS,
        "guard_cache": "the server serves a snapshot of every guard, re-read from the state "
        "store at most once a second (GUARD_TTL_S): a guard change reaches OFREP clients "
        "within a second, and no evaluation waits for the store but one a second",
    }
    results["sdk"] = sdk
    results["pinning"] = {
        "server_core": server_core,
        "client_core": client_core,
        "how": "os.sched_setaffinity: the server process (in the Popen preexec_fn) on the "
        "server core; this process (the asyncio load generator and the SDK loop) on the "
        "client core",
    }
    results["machine"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    results["seconds"] = round(time.perf_counter() - started, 1)
    results["generated_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({k: v for k, v in results.items() if not isinstance(v, dict)}, indent=2))


if __name__ == "__main__":
    main()
