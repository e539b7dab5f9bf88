"""Servers on loopback for the benchmark: `fireline serve` and `phoenix serve`, pinned to one
core, and a client that sends them OTLP/HTTP protobuf exports from other threads."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

LOOPBACK = "127.0.0.1"
FIRELINE = (sys.executable, "-m", "fireline")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def pinned(core: int | None) -> Callable[[], None] | None:
    """A preexec_fn that pins the child process to `core` (before it runs anything)."""
    if core is None:
        return None
    return lambda: os.sched_setaffinity(0, {core})


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM: uvicorn shuts down gracefully
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _wait_healthy(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            tail = server.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"server exited with {server.process.returncode}:\n{tail}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"server at {server.url} not healthy after {timeout:.0f} s")


def issue_app_token(data_dir: Path) -> str:
    """A token with the `app` role in the deployment at `data_dir` (what `fireline token
    create bench --role app` prints)."""
    from fireline.domain.access import Role
    from fireline.runtime import Fireline
    from fireline.settings import Settings
    from fireline.tokens import issue_token

    instance = Fireline(Settings(data_dir=data_dir))
    try:
        return issue_token(instance.state, "bench", Role.APP, now=datetime.now(UTC))
    finally:
        instance.close()


@contextmanager
def fireline_server(data_dir: Path, core: int | None) -> Iterator[Server]:
    """`fireline serve` (detection ticking as by default) on a free loopback port."""
    port = free_port()
    log = data_dir / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                *FIRELINE,
                "--data-dir",
                str(data_dir),
                "serve",
                "--host",
                LOOPBACK,
                "--port",
                str(port),
            ],
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


def phoenix_command(python: str) -> list[str]:
    return [python, "-m", "phoenix.server.main", "serve"]


@contextmanager
def phoenix_server(python: str, work_dir: Path, core: int | None) -> Iterator[Server]:
    """Arize Phoenix with a fresh SQLite store in `work_dir`, nothing fetched from outside."""
    port, grpc_port = free_port(), free_port()
    env = {
        **os.environ,
        "PHOENIX_WORKING_DIR": str(work_dir),
        "PHOENIX_HOST": LOOPBACK,
        "PHOENIX_PORT": str(port),
        "PHOENIX_GRPC_PORT": str(grpc_port),
        "PHOENIX_TELEMETRY_ENABLED": "false",
        "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",
    }
    log = work_dir / "phoenix.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            phoenix_command(python),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=work_dir,
            preexec_fn=pinned(core),
        )
    server = Server(process, f"http://{LOOPBACK}:{port}", log)
    try:
        _wait_healthy(server, timeout=120)
        yield server
    finally:
        server.stop()


def phoenix_span_count(work_dir: Path) -> int:
    """Spans Phoenix has written to its SQLite store (read-only; it keeps writing)."""
    database = work_dir / "phoenix.db"
    if not database.exists():
        return 0
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as connection:
        row = connection.execute("SELECT count(*) FROM spans").fetchone()
    return int(row[0])


def send_all(
    url: str, bodies: list[bytes], *, token: str | None, concurrency: int, check: bool = True
) -> float:
    """POST every body to `url` + /v1/traces from `concurrency` threads, each on one kept-alive
    connection; return the seconds from the first request to the last answer."""
    headers = {"Content-Type": "application/x-protobuf"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    lock = threading.Lock()
    pending = iter(range(len(bodies)))
    failures: list[str] = []
    start = threading.Barrier(concurrency + 1)

    def work() -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
            start.wait()
            while not failures:
                with lock:
                    index = next(pending, None)
                if index is None:
                    return
                response = client.post("/v1/traces", content=bodies[index])
                if response.status_code != 200:
                    failures.append(f"HTTP {response.status_code}: {response.text[:300]}")
                elif check:
                    answer = ExportTraceServiceResponse.FromString(response.content)
                    if answer.partial_success.rejected_spans:
                        failures.append(answer.partial_success.error_message[:300])

    threads = [threading.Thread(target=work, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if failures:
        raise RuntimeError(f"export refused: {failures[0]}")
    return elapsed


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
