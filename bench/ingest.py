"""Ingest throughput into the embedded store, end to end, on one core.

    .venv/bin/python bench/ingest.py           # a few minutes
    .venv/bin/python bench/ingest.py --quick   # under a minute

JSONL bulk: what `fireline ingest FILE` does (read_jsonl, then IngestService.ingest_rows into
DuckDB: parse, validate, price, redact, store), timed in a process pinned to one core, less
the progress bar. OTLP: a real `fireline serve` pinned to one core receives protobuf
ExportTraceServiceRequests of 512 spans (what the SDK's BatchSpanProcessor sends) over
loopback HTTP from client threads pinned to the other core; a span counts once its request
is answered, which fireline does after storing it. Arize Phoenix (`pip install -e '.[bench]'`,
or `--phoenix-python` naming another environment's interpreter) gets the same requests,
pinned the same way; it answers before storing, so its rate is counted until its store holds
the spans. The full run also sends 256,000 spans to one store (otlp_spans_per_s_sustained):
long enough for DuckDB to checkpoint its log into the database file twice, which the
shorter runs, each into a fresh store, do not. Results go to bench/results/ingest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from payloads import MIX, otlp_requests, write_jsonl

from servers import (
    fireline_server,
    issue_app_token,
    phoenix_server,
    phoenix_span_count,
    remove,
    send_all,
)

RESULTS = Path(__file__).parent / "results" / "ingest.json"
TARGETS = {"jsonl_calls_per_s": 50_000, "otlp_spans_per_s": 20_000}
FULL = {
    "calls": 200_000,
    "spans": 51_200,
    "repetitions": 5,
    "phoenix_spans": 2_048,
    "sustained_spans": 256_000,
}
QUICK = {"calls": 60_000, "spans": 10_240, "repetitions": 3, "phoenix_spans": 512}
#: Spans per export request: the SDK's BatchSpanProcessor default first (the headline), then
#: a bigger one (OTEL_BSP_MAX_EXPORT_BATCH_SIZE=1000).
BATCHES = (512, 1000)
BATCH_SPANS = BATCHES[0]
CLIENTS = 2


def cores() -> tuple[int | None, int | None]:
    """(server core, client core): the last usable core serves, the first one sends."""
    usable = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(usable) < 2:
        return (usable[0] if usable else None), None
    return usable[-1], usable[0]


# ---------------------------------------------------------------- JSONL


def jsonl_worker(path: Path, data_dir: Path, core: int | None) -> None:
    """One timed import, in its own process: prints {"seconds", "accepted"} as JSON."""
    if core is not None:
        os.sched_setaffinity(0, {core})
    from fireline.ingest.jsonl import read_jsonl
    from fireline.runtime import Fireline
    from fireline.settings import Settings

    data_dir.mkdir(parents=True)
    instance = Fireline(Settings(data_dir=data_dir))
    warm = data_dir / "warm.jsonl"
    write_jsonl(warm, 2_000, seed=99)  # opens both stores, loads every code path
    instance.ingest.ingest_rows(read_jsonl(warm), max_rows=None, row_label="line")
    began = time.perf_counter()
    rows = list(read_jsonl(path))  # as `fireline ingest` reads the file, then stores it
    result = instance.ingest.ingest_rows(rows, source=str(path), max_rows=None, row_label="line")
    seconds = time.perf_counter() - began
    instance.close()
    print(json.dumps({"seconds": seconds, "accepted": result.accepted}))


def bench_jsonl(work: Path, calls: int, repetitions: int, core: int | None) -> dict[str, Any]:
    path = work / "calls.jsonl"
    size = write_jsonl(path, calls)
    samples = []
    for n in range(repetitions):
        data_dir = work / f"jsonl-{n}"
        command = [sys.executable, __file__, "--jsonl-worker", str(path), str(data_dir)]
        command += [] if core is None else ["--core", str(core)]
        answer = json.loads(subprocess.run(command, check=True, capture_output=True).stdout)
        if answer["accepted"] != calls:
            raise RuntimeError(f"stored {answer['accepted']} of {calls} calls")
        samples.append(calls / answer["seconds"])
        print(f"  jsonl #{n + 1}: {samples[-1]:,.0f} calls/s", flush=True)
        remove(data_dir)
    return {
        "calls": calls,
        "file_bytes": size,
        "batches": 1,
        "repetitions": repetitions,
        "median_calls_per_s": round(statistics.median(samples)),
        "samples_calls_per_s": [round(s) for s in samples],
        "path": "list(read_jsonl(file)) -> IngestService.ingest_rows(max_rows=None) -> DuckDB, "
        "as `fireline ingest FILE` without its progress bar; a fresh data directory each time",
    }


# ---------------------------------------------------------------- OTLP


def stored_calls(data_dir: Path) -> int:
    import duckdb

    with duckdb.connect(str(data_dir / "telemetry.duckdb"), read_only=True) as db:
        row = db.execute("SELECT count(*) FROM calls").fetchone()
    return int(row[0]) if row else 0


def bench_otlp(
    work: Path, spans: int, batch: int, repetitions: int, core: int | None
) -> dict[str, Any]:
    bodies = otlp_requests(spans, batch)
    warm = otlp_requests(2 * batch, batch, seed=98)
    samples = []
    for n in range(repetitions):
        data_dir = work / f"otlp-{batch}-{n}"
        token = issue_app_token(data_dir)
        with fireline_server(data_dir, core) as server:
            send_all(server.url, warm, token=token, concurrency=CLIENTS)
            seconds = send_all(server.url, bodies, token=token, concurrency=CLIENTS)
        stored = stored_calls(data_dir)
        if stored != spans + 2 * batch:
            raise RuntimeError(f"fireline stored {stored} calls of {spans + 2 * batch}")
        samples.append(spans / seconds)
        print(f"  otlp, {batch} spans a request, #{n + 1}: {samples[-1]:,.0f} spans/s", flush=True)
        remove(data_dir)
    return {
        "spans": spans,
        "batch_spans": batch,
        "requests": len(bodies),
        "request_bytes_mean": round(sum(map(len, bodies)) / len(bodies)),
        "client_threads": CLIENTS,
        "repetitions": repetitions,
        "median_spans_per_s": round(statistics.median(samples)),
        "samples_spans_per_s": [round(s) for s in samples],
    }


# ---------------------------------------------------------------- Phoenix


def phoenix_python(given: str | None) -> tuple[str | None, str]:
    """The interpreter that runs Phoenix and Phoenix's version, or None and why not."""
    python = given or sys.executable
    found = subprocess.run(
        [python, "-c", "import importlib.metadata as m; print(m.version('arize-phoenix'))"],
        capture_output=True,
        text=True,
        check=False,
    )
    if found.returncode == 0:
        return python, found.stdout.strip()
    if given:
        return None, f"{given} has no arize-phoenix"
    return None, "arize-phoenix is not installed (pip install -e '.[bench]')"


def bench_phoenix(
    work: Path, python: str, version: str, bodies: list[bytes], spans: int, core: int | None
) -> dict[str, Any]:
    chosen = bodies[: spans // BATCH_SPANS]
    home = work / "phoenix"
    home.mkdir()
    with phoenix_server(python, home, core) as server:
        send_all(server.url, otlp_requests(64, 64, seed=97), token=None, concurrency=1)
        _wait_for_spans(home, 64, timeout=60)
        began = time.perf_counter()
        acked = send_all(server.url, chosen, token=None, concurrency=CLIENTS, check=False)
        stored = _wait_for_spans(home, 64 + spans, timeout=300)
        seconds = time.perf_counter() - began
    remove(home)
    return {
        "version": version,
        "spans": spans,
        "stored": stored - 64,
        "batch_spans": BATCH_SPANS,
        "client_threads": CLIENTS,
        "repetitions": 1,
        "spans_per_s": round((stored - 64) / seconds, 1),
        "acknowledged_spans_per_s": round(spans / acked),
        "store": "SQLite in a fresh PHOENIX_WORKING_DIR; nothing fetched from outside",
        "note": "Phoenix answers an export before storing it (a queue and a bulk inserter "
        "of 100 spans a transaction); its rate is counted until its store holds every span. "
        "It is slow enough that fewer spans are sent to it; the rate is per second.",
    }


def _wait_for_spans(home: Path, count: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    stored = phoenix_span_count(home)
    while stored < count and time.monotonic() < deadline:
        time.sleep(0.1)
        stored = phoenix_span_count(home)
    return stored


# ---------------------------------------------------------------- the run


def machine() -> dict[str, Any]:
    import duckdb
    import pyarrow
    import pydantic

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
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "pyarrow": pyarrow.__version__,
        "pydantic": pydantic.VERSION,
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "note": "a shared 2-core virtual machine: expect run-to-run noise of 10-20 %",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls and repetitions")
    parser.add_argument(
        "--phoenix-python",
        default=os.environ.get("FIRELINE_BENCH_PHOENIX_PYTHON"),
        help="interpreter with arize-phoenix installed [env FIRELINE_BENCH_PHOENIX_PYTHON; "
        "default: this one, if it has it]",
    )
    parser.add_argument("--no-phoenix", action="store_true", help="skip Phoenix")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--jsonl-worker", nargs=2, type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--core", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.jsonl_worker:
        jsonl_worker(*args.jsonl_worker, args.core)
        return
    size = QUICK if args.quick else FULL
    server_core, client_core = cores()
    if client_core is not None:
        os.sched_setaffinity(0, {client_core})
    started = time.perf_counter()
    results: dict[str, Any] = {"mode": "quick" if args.quick else "full", "machine": machine()}
    with tempfile.TemporaryDirectory(prefix="fireline-bench-") as temp:
        work = Path(temp)
        print(f"JSONL: {size['calls']:,} calls x {size['repetitions']}", flush=True)
        jsonl = bench_jsonl(work, size["calls"], size["repetitions"], server_core)
        print(f"OTLP: {size['spans']:,} spans x {size['repetitions']}", flush=True)
        otlp = {
            batch: bench_otlp(work, size["spans"], batch, size["repetitions"], server_core)
            for batch in BATCHES
        }
        results |= {
            "jsonl_calls_per_s": jsonl["median_calls_per_s"],
            "otlp_spans_per_s": otlp[BATCH_SPANS]["median_spans_per_s"],
        }
        for batch in BATCHES[1:]:
            results[f"otlp_spans_per_s_batch_{batch}"] = otlp[batch]["median_spans_per_s"]
        sustained = None
        if "sustained_spans" in size:
            print(f"OTLP sustained: {size['sustained_spans']:,} spans into one store", flush=True)
            sustained = bench_otlp(work, size["sustained_spans"], BATCH_SPANS, 1, server_core)
            sustained["note"] = (
                "one store from empty to this many calls: the write-ahead log is "
                "checkpointed into the database file as it passes 64 MiB"
            )
            results["otlp_spans_per_s_sustained"] = sustained["median_spans_per_s"]
        bodies = otlp_requests(size["phoenix_spans"], BATCH_SPANS)
        python, found = (None, "--no-phoenix") if args.no_phoenix else (None, "")
        if not args.no_phoenix:
            python, found = phoenix_python(args.phoenix_python)
        skipped = None if python else found
        if python is not None:
            print(f"Phoenix {found}: {size['phoenix_spans']:,} spans", flush=True)
            try:
                phoenix = bench_phoenix(
                    work, python, found, bodies, size["phoenix_spans"], server_core
                )
            except (RuntimeError, OSError) as error:
                skipped = f"Phoenix did not run: {error}"[:500]
            else:
                results["phoenix_spans_per_s"] = phoenix["spans_per_s"]
                ratio = results["otlp_spans_per_s"] / phoenix["spans_per_s"]
                results["ratio_vs_phoenix"] = round(ratio, 1)
                results["phoenix"] = phoenix
        if skipped:
            print(f"Phoenix skipped: {skipped}", flush=True)
            results["phoenix_skipped"] = skipped
    results["targets"] = {
        name: {"target": target, "measured": results[name], "met": results[name] >= target}
        for name, target in TARGETS.items()
    }
    results["targets"]["otlp_spans_per_s"]["by_batch_spans"] = {
        str(batch): {
            "measured": run["median_spans_per_s"],
            "met": run["median_spans_per_s"] >= TARGETS["otlp_spans_per_s"],
        }
        for batch, run in otlp.items()
    }
    results["jsonl"] = jsonl
    results["otlp"] = {
        "server": "`python -m fireline --data-dir DIR serve` (uvicorn, as `fireline serve` runs "
        "it: access log on, detection ticking as by default), an API token with role app; "
        "a fresh data directory for each repetition, after two warm-up requests",
        "headline_batch_spans": BATCH_SPANS,
        "by_batch_spans": {str(batch): run for batch, run in otlp.items()},
        "sustained": sustained,
    }
    results["payload"] = MIX
    results["pinning"] = {
        "server_core": server_core,
        "client_core": client_core,
        "how": "os.sched_setaffinity: the JSONL worker process and the server process (in the "
        "Popen preexec_fn, before it starts) on the server core; this process, which runs the "
        "client threads, on the client core. DuckDB then runs one thread.",
    }
    results["machine"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    results["seconds"] = round(time.perf_counter() - started, 1)
    results["generated_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({k: v for k, v in results.items() if not isinstance(v, dict)}, indent=2))


if __name__ == "__main__":
    main()
