"""What ingest remembers to answer quickly: API tokens and the watermark, never for long."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest

from fireline.api.app import Ticker, create_app
from fireline.clock import SimulatedClock
from fireline.domain.access import Role
from fireline.ingest.service import RememberedWatermark
from fireline.runtime import Fireline
from fireline.store.state import StateStore
from fireline.tokens import TOKEN_CACHE_SECONDS, TokenCache, issue_token
from tests.conftest import T0
from tests.servers import serving


class Ticking:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def state() -> Iterator[StateStore]:
    store = StateStore("sqlite://")
    store.upgrade()
    yield store
    store.dispose()


def test_a_remembered_token_is_refused_once_revoked_and_its_time_is_up(
    state: StateStore,
) -> None:
    ticking = Ticking()
    cache = TokenCache(2.0, clock=ticking)
    token = issue_token(state, "exporter", Role.APP, now=T0)
    assert cache.authenticate(state, token) is not None
    with state.unit_of_work() as tx:
        tx.revoke_token("exporter", now=T0)
    ticking.now += 1.9
    assert cache.authenticate(state, token) is not None  # remembered: at most 2 s more
    ticking.now += 0.2
    assert cache.authenticate(state, token) is None
    assert cache.authenticate(state, token) is None  # and a revoked token is never kept


def test_unknown_tokens_are_never_remembered(state: StateStore) -> None:
    cache = TokenCache(60.0, clock=Ticking())
    assert cache.authenticate(state, "fl_unknown") is None
    assert cache.remembered("fl_unknown") is None


def test_the_cache_forgets_everything_rather_than_grow_without_bound(state: StateStore) -> None:
    cache = TokenCache(60.0, clock=Ticking())
    tokens = [issue_token(state, f"app-{n}", Role.APP, now=T0) for n in range(3)]
    cache.MAX_TOKENS = 2
    for token in tokens:
        assert cache.authenticate(state, token) is not None
    assert cache.remembered(tokens[0]) is None
    assert cache.remembered(tokens[2]) is not None


def test_telemetry_routes_accept_a_revoked_token_only_within_the_cache_time(
    deployment: tuple[Fireline, SimulatedClock],
) -> None:
    app, clock = deployment
    api = create_app(app)
    ticking = Ticking()
    api.state.ingest_tokens = TokenCache(TOKEN_CACHE_SECONDS, clock=ticking)
    token = issue_token(app.state, "exporter", Role.ADMIN, now=clock.now())
    headers = {"Authorization": f"Bearer {token}"}
    call = {"time": T0.isoformat(), "feature": "bot"}
    with serving(api) as url, httpx.Client(base_url=url, headers=headers) as client:
        assert client.post("/v1/calls", json={"calls": [call]}).status_code == 200
        with app.state.unit_of_work() as tx:
            tx.revoke_token("exporter", now=clock.now())
        assert client.get("/api/incidents").status_code == 401  # everywhere else: at once
        assert client.post("/v1/alertmanager", json={"alerts": []}).status_code == 401
        assert client.post("/v1/calls", json={"calls": [call]}).status_code == 200
        ticking.now += TOKEN_CACHE_SECONDS
        assert client.post("/v1/calls", json={"calls": [call]}).status_code == 401


def test_without_a_token_cache_ingest_sees_a_revocation_at_once(
    deployment: tuple[Fireline, SimulatedClock],
) -> None:
    app, clock = deployment
    token = issue_token(app.state, "exporter", Role.APP, now=clock.now())
    headers = {"Authorization": f"Bearer {token}"}
    with (
        serving(create_app(app, token_cache_seconds=0)) as url,
        httpx.Client(base_url=url, headers=headers) as client,
    ):
        assert client.post("/v1/calls", json={"calls": []}).status_code == 200
        with app.state.unit_of_work() as tx:
            tx.revoke_token("exporter", now=clock.now())
        assert client.post("/v1/calls", json={"calls": []}).status_code == 401


# ---------------------------------------------------------------- the watermark


def test_the_watermark_is_read_for_every_batch_unless_asked_to_remember_it() -> None:
    reads: list[int] = []
    remembered = RememberedWatermark(lambda: reads.append(1) or None)
    remembered()
    remembered()
    assert len(reads) == 2


def test_a_remembered_watermark_is_read_again_when_moved_or_when_its_time_is_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    monkeypatch.setattr("fireline.ingest.service.time.monotonic", lambda: now[0])
    watermark = [T0]
    remembered = RememberedWatermark(lambda: watermark[0], seconds=1.0)
    assert remembered() == T0
    watermark[0] = T0 + timedelta(minutes=1)
    assert remembered() == T0  # remembered
    remembered.forget()  # a tick moved it
    assert remembered() == T0 + timedelta(minutes=1)
    watermark[0] = T0 + timedelta(minutes=2)
    now[0] += 1.0
    assert remembered() == T0 + timedelta(minutes=2)


def test_a_watermark_read_while_a_tick_moves_it_is_not_remembered() -> None:
    reading, moved = threading.Event(), threading.Event()
    watermark = [T0]

    def read() -> datetime | None:
        found = watermark[0]
        reading.set()
        moved.wait(5)
        return found

    remembered = RememberedWatermark(read, seconds=60.0)
    first = threading.Thread(target=remembered)
    first.start()
    reading.wait(5)
    watermark[0] = T0 + timedelta(minutes=1)
    remembered.forget()
    moved.set()
    first.join(5)
    reading.clear()
    moved.set()
    assert remembered() == T0 + timedelta(minutes=1)


def test_late_calls_are_counted_against_the_watermark_a_tick_just_moved(
    deployment: tuple[Fireline, SimulatedClock],
) -> None:
    app, clock = deployment
    app.ingest.remember_watermark(60.0)
    try:
        old = {"time": (clock.now() - timedelta(minutes=5)).isoformat(), "feature": "bot"}
        assert app.ingest.ingest_rows([(1, old)]).late == 0  # nothing evaluated yet
        clock.advance(120)
        app.tick()
        app.ingest.watermark_moved()  # as the server's ticker says after each tick
        again = {**old, "call_id": "again"}
        assert app.ingest.ingest_rows([(1, again)]).late == 1
    finally:
        app.ingest.remember_watermark(0)


def test_the_server_remembers_the_watermark_only_while_its_ticker_runs(
    deployment: tuple[Fireline, SimulatedClock],
) -> None:
    app, _ = deployment
    with serving(create_app(app, tick_interval=0.05)):
        deadline = time.monotonic() + 5
        while app.ingest._remembered.seconds != Ticker.WATERMARK_SECONDS:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    assert app.ingest._remembered.seconds == 0
