"""Nothing acknowledged is lost or duplicated, even when the server is killed mid-stream."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import httpx

from tests.servers import cli_env, free_port, run_fireline

BATCH = 200


@contextmanager
def server(env: dict[str, str], port: int) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "fireline", "serve", "--port", str(port), "--tick-seconds", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert process.poll() is None, "server exited"
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


def batch_of(number: int) -> list[dict[str, object]]:
    start = datetime(2026, 3, 2, tzinfo=UTC) + timedelta(minutes=number)
    return [
        {
            "call_id": f"b{number}-{i}",
            "time": (start + timedelta(seconds=i)).isoformat(),
            "feature": "bot",
            "status": "ok",
        }
        for i in range(BATCH)
    ]


def stored_ids(data_dir: Path) -> list[str]:
    with duckdb.connect(str(data_dir / "telemetry.duckdb"), read_only=True) as db:
        return [row[0] for row in db.execute("SELECT call_id FROM calls").fetchall()]


def test_every_acknowledged_call_survives_sigkill_exactly_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = cli_env(data)
    token = run_fireline("token", "create", "loader", "--role", "app", env=env).stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    port = free_port()
    acknowledged: set[str] = set()
    sent_batches = 0

    with server(env, port) as first:
        killed = threading.Event()

        def kill_soon() -> None:
            time.sleep(1.5)
            os.kill(first.pid, signal.SIGKILL)
            killed.set()

        threading.Thread(target=kill_soon, daemon=True).start()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=10) as c:
            while not killed.is_set() or sent_batches < 3:
                rows = batch_of(sent_batches)
                sent_batches += 1
                try:
                    response = c.post("/v1/calls", json={"calls": rows})
                except httpx.TransportError:
                    if killed.is_set():
                        break
                    raise
                assert response.status_code == 200, response.text
                acknowledged.update(str(row["call_id"]) for row in rows)
        first.wait(timeout=30)
        assert first.returncode == -signal.SIGKILL
    assert len(acknowledged) >= BATCH  # the kill came mid-stream, after some acknowledgements

    ids = stored_ids(data)
    assert acknowledged <= set(ids), f"{len(acknowledged - set(ids))} acknowledged calls lost"
    assert len(ids) == len(set(ids))

    # The client resends everything it was unsure of; the restarted server stores each once.
    with (
        server(env, port),
        httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=10) as c,
    ):
        for number in range(sent_batches):
            response = c.post("/v1/calls", json={"calls": batch_of(number)})
            assert response.status_code == 200, response.text
    ids = stored_ids(data)
    assert len(ids) == len(set(ids)) == sent_batches * BATCH
