"""Fixtures of the integration tests: an in-memory deployment served on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from fireline.api.app import create_app
from fireline.api.routes import ofrep
from fireline.clock import SimulatedClock
from fireline.config import Config, parse_config
from fireline.domain.access import Role
from fireline.runtime import Fireline
from tests.conftest import T0
from tests.servers import client_for, serving


@pytest.fixture
def deployment() -> Iterator[tuple[Fireline, SimulatedClock]]:
    """An in-memory deployment and its simulated clock (file-backed ones are built per test)."""
    clock = SimulatedClock(T0)
    app = Fireline.in_memory(clock)
    yield app, clock
    app.close()


@pytest.fixture
def base_url(deployment: tuple[Fireline, SimulatedClock]) -> Iterator[str]:
    """The deployment's API, served by uvicorn on a free loopback port."""
    with serving(create_app(deployment[0])) as url:
        yield url


Deployment = tuple[Fireline, SimulatedClock]


def _client(deployment: Deployment, base_url: str, role: Role) -> Iterator[httpx.Client]:
    # The token's name is the actor on the timeline: "token:responder-user".
    with client_for(deployment[0], base_url, role, f"{role.value}-user") as http:
        yield http


@pytest.fixture
def app_client(deployment: Deployment, base_url: str) -> Iterator[httpx.Client]:
    """A client of `base_url` with an app's token."""
    yield from _client(deployment, base_url, Role.APP)


@pytest.fixture
def viewer(deployment: Deployment, base_url: str) -> Iterator[httpx.Client]:
    """A client of `base_url` with a viewer's token."""
    yield from _client(deployment, base_url, Role.VIEWER)


@pytest.fixture
def responder(deployment: Deployment, base_url: str) -> Iterator[httpx.Client]:
    """A client of `base_url` with a responder's token."""
    yield from _client(deployment, base_url, Role.RESPONDER)


@pytest.fixture
def guard_config() -> str:
    """The fireline.yaml of `guarded` (a module overrides this fixture to set its own)."""
    return ""


@pytest.fixture
def guarded(guard_config: str) -> Iterator[Fireline]:
    """An in-memory deployment for guard tests, with `guard_config`."""
    config = parse_config(guard_config) if guard_config else Config()
    app = Fireline.in_memory(SimulatedClock(T0), config=config)
    yield app
    app.close()


@pytest.fixture
def guards_url(guarded: Fireline) -> Iterator[str]:
    """`guarded`'s API on loopback; OFREP reads every guard change at once (no cache)."""
    api = create_app(guarded)
    api.state.ofrep_guards = ofrep.GuardSnapshots(ttl=0.0)
    with serving(api) as base:
        yield base


@pytest.fixture
def commander(guarded: Fireline, guards_url: str) -> Iterator[httpx.Client]:
    """A client of `guards_url` with a commander's token."""
    with client_for(guarded, guards_url, Role.COMMANDER) as client:
        yield client
