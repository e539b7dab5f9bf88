"""Real HTTP servers on loopback for tests: fireline's API in a uvicorn thread."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from fastapi import FastAPI

from fireline.domain.access import Role
from fireline.runtime import Fireline
from fireline.tokens import issue_token
from tests.conftest import T0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(api: FastAPI) -> Iterator[str]:
    """Serve `api` with uvicorn on a free loopback port; yield its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(api, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def run_fireline(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the `fireline` command as a user would, in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "fireline", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def cli_env(data_dir: object, **extra: str) -> dict[str, str]:
    """The environment of a CLI run on its own data directory with the default state store."""
    env = {**os.environ, "FIRELINE_DATA_DIR": str(data_dir), **extra}
    env.pop("FIRELINE_STATE_URL", None)
    return env


def token_for(app: Fireline, role: Role, name: str | None = None) -> str:
    """A fresh API token of `role` for `app`, issued at T0 (named `name`, else uniquely)."""
    return issue_token(app.state, name or f"{role.value}-{uuid.uuid4().hex[:6]}", role, now=T0)


def client_for(app: Fireline, base_url: str, role: Role, name: str | None = None) -> httpx.Client:
    """An HTTP client of `base_url` carrying a fresh token of `role` (named `name`)."""
    auth = {"Authorization": f"Bearer {token_for(app, role, name)}"}
    return httpx.Client(base_url=base_url, headers=auth)
