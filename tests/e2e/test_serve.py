"""`fireline serve` as a real process: calls over HTTP, detection on its own ticker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from tests.servers import free_port


def test_the_server_detects_an_outage_on_its_own_and_sets_the_kill_switch(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "FIRELINE_DATA_DIR": str(tmp_path / "data")}
    env.pop("FIRELINE_STATE_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "fireline", "serve", "--port", str(port), "--tick-seconds", "0.5"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)

            # An hour of healthy traffic, then five minutes of a failing provider, all
            # in the recent past so the server's wall-clock ticks evaluate it.
            now = datetime.now(UTC)
            start = now - timedelta(minutes=70)
            rows = []
            for minute in range(69):
                for i in range(30):
                    failing = minute >= 64
                    failed = i % 2 == 0 if failing else (i == 0 and minute % 3 == 0)
                    rows.append(
                        {
                            "time": (start + timedelta(minutes=minute, seconds=2 * i)).isoformat(),
                            "feature": "search-answers",
                            "status": "error" if failed else "ok",
                        }
                    )
            response = client.post("/v1/calls", json={"calls": rows})
            assert response.status_code == 200, response.text

            deadline = time.monotonic() + 30
            guard = client.get("/api/guards/search-answers").json()
            while guard["level"] != 4 and time.monotonic() < deadline:
                time.sleep(0.2)
                guard = client.get("/api/guards/search-answers").json()
            assert guard["level"] == 4
            assert guard["enabled"] is False
            [incident] = client.get("/api/incidents").json()
            assert incident["feature"] == "search-answers"
            assert incident["state"] == "contained"
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert "Traceback" not in output, output
