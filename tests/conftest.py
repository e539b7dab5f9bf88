"""Fixtures shared by every test: clocks, stores on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
import sqlalchemy as sa

from fireline.clock import SimulatedClock
from fireline.store.state import StateStore
from fireline.store.telemetry import TelemetryStore
from tests.postgres_server import PostgresServer

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(T0)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server for the session: FIRELINE_TEST_POSTGRES_URL, or one started here."""
    given = os.environ.get("FIRELINE_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    server = PostgresServer().start()
    try:
        yield server.url
    finally:
        server.stop()


def fresh_postgres_database(server_url: str) -> str:
    """Create an empty database on the server and return its URL."""
    name = f"fireline_test_{uuid.uuid4().hex[:12]}"
    url = sa.make_url(server_url)
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def state_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The same state-store tests run on a SQLite file and on a real PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('state') / 'state.db'}"
    server_url: str = request.getfixturevalue("postgres_url")
    return fresh_postgres_database(server_url)


@pytest.fixture
def state_store(state_url: str) -> Iterator[StateStore]:
    store = StateStore(state_url)
    store.upgrade()
    yield store
    store.dispose()


@pytest.fixture
def telemetry() -> Iterator[TelemetryStore]:
    store = TelemetryStore(":memory:")
    yield store
    store.close()
