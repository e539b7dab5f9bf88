"""`fireline serve` as a real process: calls over HTTP, detection on its own ticker."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.servers import cli_env, free_port, run_fireline


@contextmanager
def fireline_server(env: dict[str, str], *args: str) -> Iterator[str]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "fireline", "serve", "--port", str(port), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.communicate()[0]
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
        assert "Traceback" not in output, output


def recent_outage_rows(now: datetime) -> list[dict[str, Any]]:
    """An hour of healthy traffic, then five minutes of a failing provider, just before now."""
    start = now - timedelta(minutes=70)
    rows = []
    for minute in range(69):
        for i in range(30):
            failed = i % 2 == 0 if minute >= 64 else (i == 0 and minute % 3 == 0)
            rows.append(
                {
                    "time": (start + timedelta(minutes=minute, seconds=2 * i)).isoformat(),
                    "feature": "search-answers",
                    "status": "error" if failed else "ok",
                }
            )
    return rows


def test_the_server_detects_an_outage_on_its_own_and_sets_the_kill_switch(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "data")
    app_token = run_fireline(
        "token", "create", "search-app", "--role", "app", env=env
    ).stdout.strip()
    viewer_token = run_fireline(
        "token", "create", "oncall", "--role", "viewer", env=env
    ).stdout.strip()
    assert app_token.startswith("fl_")

    calls = tmp_path / "calls.jsonl"
    calls.write_text("".join(json.dumps(r) + "\n" for r in recent_outage_rows(datetime.now(UTC))))

    with fireline_server(env, "--tick-seconds", "0.5") as base:
        refused = run_fireline("ingest", str(calls), "--url", base, env=env)
        assert refused.returncode == 1
        assert "server answered 401 for lines 1-2070" in refused.stderr
        assert "missing API token" in refused.stderr

        sent = run_fireline(
            "ingest", str(calls), "--url", base, env={**env, "FIRELINE_TOKEN": app_token}
        )
        assert sent.returncode == 0, sent.stderr
        assert "2070 calls stored, 0 already stored" in sent.stdout

        app_headers = {"Authorization": f"Bearer {app_token}"}
        deadline = time.monotonic() + 30
        guard = httpx.get(f"{base}/api/guards/search-answers", headers=app_headers).json()
        while guard["level"] != 4 and time.monotonic() < deadline:
            time.sleep(0.2)
            guard = httpx.get(f"{base}/api/guards/search-answers", headers=app_headers).json()
        assert guard["level"] == 4
        assert guard["enabled"] is False

        viewer_headers = {"Authorization": f"Bearer {viewer_token}"}
        [incident] = httpx.get(f"{base}/api/incidents", headers=viewer_headers).json()
        assert incident["feature"] == "search-answers"
        assert incident["state"] == "contained"

        revoked = run_fireline("token", "revoke", "oncall", env=env)
        assert revoked.returncode == 0, revoked.stderr
        assert httpx.get(f"{base}/api/incidents", headers=viewer_headers).status_code == 401

    listed = run_fireline("token", "list", env=env).stdout
    assert "search-app" in listed
    assert app_token not in listed


def test_serving_without_tokens_is_refused_off_loopback(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "data")
    result = run_fireline("serve", "--host", "0.0.0.0", "--no-auth", env=env)
    assert result.returncode == 2
    assert "only on loopback" in result.stderr


def test_serving_without_tokens_on_loopback_lets_local_tools_in(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "data")
    with fireline_server(env, "--no-auth", "--tick-seconds", "0") as base:
        assert httpx.get(f"{base}/api/guards/anything").json()["level"] == 0
