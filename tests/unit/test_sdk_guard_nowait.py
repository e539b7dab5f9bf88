"""Guard reads that never wait for fireline: `guard_wait=False` and `guard_prefetch`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from fireline.sdk import FirelineClient

KILL_SWITCH = {"feature": "support-bot", "level": 4, "enabled": False, "probe_share": 0.0}


class SlowFireline:
    """A mock fireline whose guard answers are held until `release` is set."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.asked: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(request.url.path)
        self.release.wait(10)
        return httpx.Response(200, json=KILL_SWITCH)


@pytest.fixture
def fireline() -> Iterator[SlowFireline]:
    server = SlowFireline()
    yield server
    server.release.set()


def client(server: SlowFireline, **options: object) -> FirelineClient:
    return FirelineClient(
        "http://fireline.test",
        "fl_token",
        transport=httpx.MockTransport(server),
        guard_timeout=5.0,
        **options,  # type: ignore[arg-type]
    )


def eventually(condition: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_without_guard_wait_a_first_read_is_the_default_at_once(fireline: SlowFireline) -> None:
    with client(fireline, guard_wait=False, default_guard_level=3) as sdk:
        began = time.monotonic()
        first = sdk.guard("support-bot")
        assert time.monotonic() - began < 0.5  # fireline is holding its answer for 10 s
        assert (first.level, first.source) == (3, "default")
        eventually(lambda: fireline.asked == ["/api/guards/support-bot"])
        fireline.release.set()
        eventually(lambda: sdk.guard("support-bot").source == "fireline")
        assert sdk.guard("support-bot").level == 4
        assert sdk.should_call_model("support-bot") is False


def test_a_first_read_waits_by_default(fireline: SlowFireline) -> None:
    threading.Timer(0.3, fireline.release.set).start()
    with client(fireline) as sdk:
        assert sdk.guard("support-bot").source == "fireline"


def test_prefetched_guards_are_read_at_creation_and_never_waited_for(
    fireline: SlowFireline,
) -> None:
    with client(fireline, guard_prefetch=["support-bot", "no such feature!"]) as sdk:
        eventually(lambda: fireline.asked == ["/api/guards/support-bot"])
        began = time.monotonic()
        assert sdk.guard("support-bot").source == "default"
        assert time.monotonic() - began < 0.5
        fireline.release.set()
        eventually(lambda: sdk.guard("support-bot").level == 4)


def test_a_single_feature_name_is_prefetched_as_one_name(fireline: SlowFireline) -> None:
    fireline.release.set()
    with client(fireline, guard_prefetch="support-bot") as sdk:
        eventually(lambda: sdk.guard("support-bot").source == "fireline")
    assert fireline.asked == ["/api/guards/support-bot"]


def test_a_failed_background_first_read_keeps_the_default(fireline: SlowFireline) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    sdk = FirelineClient(
        "http://fireline.test", "fl_token", transport=httpx.MockTransport(down), guard_wait=False
    )
    with sdk:
        assert sdk.guard("support-bot").source == "default"
        eventually(lambda: sdk.stats().guard_failures == 1)
        assert sdk.guard("support-bot").enabled is True


def test_a_disabled_client_prefetches_nothing(fireline: SlowFireline) -> None:
    with client(fireline, enabled=False, guard_prefetch=["support-bot"]) as sdk:
        assert sdk.guard("support-bot").source == "default"
    assert fireline.asked == []
