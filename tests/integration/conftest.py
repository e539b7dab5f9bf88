"""Fixtures of the integration tests: an in-memory deployment served on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fireline.api.app import create_app
from fireline.clock import SimulatedClock
from fireline.runtime import Fireline
from tests.conftest import T0
from tests.servers import serving


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
