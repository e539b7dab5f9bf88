"""Guards read through the SDK from a real fireline API, and kept when fireline goes away."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from fireline.api.app import create_app
from fireline.clock import SimulatedClock
from fireline.domain.access import Role
from fireline.domain.guard import ContainmentLevel as ServerLevel
from fireline.domain.guard import Guard as ServerGuard
from fireline.runtime import Fireline
from fireline.sdk import ContainmentLevel, FirelineClient, Guard
from fireline.tokens import issue_token
from tests.conftest import T0
from tests.servers import free_port, serving


@pytest.fixture
def deployment() -> Iterator[Fireline]:
    app = Fireline.in_memory(SimulatedClock(T0))
    yield app
    app.close()


@pytest.fixture
def token(deployment: Fireline) -> str:
    return issue_token(deployment.state, "support-bot", Role.APP, now=T0)


def kill_switch(app: Fireline, feature: str = "support-bot", probe_share: float = 0.0) -> None:
    with app.state.unit_of_work() as tx:
        tx.put_guard(
            ServerGuard(
                feature=feature,
                level=ServerLevel.FEATURE_DISABLED,
                reason="P1 availability incident",
                probe_share=probe_share,
                set_by="policy:default",
                updated_at=T0 + timedelta(minutes=5),
            )
        )


def eventually(condition: Callable[[], bool], within: float = 3.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_a_feature_without_a_guard_reads_as_normal_service(
    deployment: Fireline, token: str
) -> None:
    with serving(create_app(deployment)) as url, FirelineClient(url, token) as client:
        guard = client.guard("support-bot")

    assert guard == Guard("support-bot", level=0, enabled=True, source="fireline")
    assert client.should_call_model("support-bot") is True


def test_a_kill_switch_is_read_with_its_reason_and_stops_model_calls(
    deployment: Fireline, token: str
) -> None:
    kill_switch(deployment)
    with serving(create_app(deployment)) as url, FirelineClient(url, token) as client:
        guard = client.guard("support-bot")
        calls = [client.should_call_model("support-bot") for _ in range(100)]

    assert guard.level == ContainmentLevel.FEATURE_DISABLED
    assert guard.name == "feature_disabled"
    assert guard.enabled is False
    assert guard.reason == "P1 availability incident"
    assert guard.updated_at == T0 + timedelta(minutes=5)
    assert not any(calls)


def test_a_disabled_feature_still_calls_the_model_for_its_probe_share(
    deployment: Fireline, token: str
) -> None:
    kill_switch(deployment, probe_share=0.25)
    with serving(create_app(deployment)) as url, FirelineClient(url, token) as client:
        calls = [client.should_call_model("support-bot") for _ in range(2000)]

    assert 0.18 < sum(calls) / len(calls) < 0.32


def test_a_guard_is_cached_and_a_change_is_seen_after_the_ttl(
    deployment: Fireline, token: str
) -> None:
    with (
        serving(create_app(deployment)) as url,
        FirelineClient(url, token, guard_ttl=0.2) as client,
    ):
        assert client.guard("support-bot").enabled
        kill_switch(deployment)
        assert client.guard("support-bot").enabled, "cached within the TTL"
        time.sleep(0.25)
        eventually(lambda: not client.guard("support-bot").enabled)


def test_the_last_known_guard_stays_in_force_when_fireline_goes_away(
    deployment: Fireline, token: str
) -> None:
    kill_switch(deployment)
    with serving(create_app(deployment)) as url:
        client = FirelineClient(url, token, guard_ttl=0.05, guard_timeout=0.5)
        assert client.guard("support-bot").source == "fireline"
    time.sleep(0.1)
    client.guard("support-bot")  # starts a refresh, which fails
    eventually(lambda: client.stats().guard_failures >= 1)

    guard = client.guard("support-bot")
    client.close()
    assert (guard.level, guard.enabled, guard.source) == (4, False, "last_known")
    assert guard.reason == "P1 availability incident"
    last_error = client.stats().last_error
    assert last_error is not None
    assert token not in last_error


def test_before_any_read_succeeds_the_configured_default_is_used() -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    with FirelineClient(closed, "fl_x") as client:
        default = client.guard("support-bot")
    with FirelineClient(closed, "fl_x", default_guard_level=4) as cautious:
        disabled = cautious.guard("support-bot")

    assert (default.level, default.enabled, default.source) == (0, True, "default")
    assert (disabled.level, disabled.enabled, disabled.source) == (4, False, "default")
    assert client.stats().guard_failures == 1


def test_a_first_read_from_a_server_that_never_answers_waits_only_the_guard_timeout() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        client = FirelineClient(url, "fl_x", guard_timeout=0.2)
        started = time.monotonic()
        guard = client.guard("support-bot")
        again = client.guard("support-bot")
        elapsed = time.monotonic() - started
        client.close(0.1)

    assert elapsed < 1.0
    assert guard.enabled
    assert again.enabled
    assert guard.source == "default"


def test_a_token_without_the_right_to_read_guards_falls_back_to_the_default(
    deployment: Fireline,
) -> None:
    nobody = "fl_unknown"
    with serving(create_app(deployment)) as url, FirelineClient(url, nobody) as client:
        guard = client.guard("support-bot")
        stats = client.stats()

    assert guard.source == "default"
    assert stats.guard_failures == 1
    assert stats.last_error is not None
    assert "401" in stats.last_error
