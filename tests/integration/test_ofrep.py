"""Guards as OFREP flags: the official OpenFeature SDK and OFREP provider against a real server,
and the protocol's error codes and ETags over raw HTTP."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from openfeature import api as openfeature
from openfeature.client import OpenFeatureClient
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

from fireline.api.app import create_app
from fireline.api.routes import ofrep
from fireline.clock import SimulatedClock
from fireline.domain.access import Role
from fireline.domain.guard import ContainmentLevel, Guard
from fireline.errors import StoreUnavailable
from fireline.runtime import Fireline
from fireline.tokens import issue_token
from tests.conftest import T0
from tests.servers import serving

#: A short snapshot life, so a guard change shows within a test's patience.
TTL = 0.05


@pytest.fixture
def deployment() -> Iterator[Fireline]:
    app = Fireline.in_memory(SimulatedClock(T0))
    yield app
    app.close()


@pytest.fixture
def token(deployment: Fireline) -> str:
    return issue_token(deployment.state, "support-bot", Role.APP, now=T0)


@pytest.fixture
def url(deployment: Fireline) -> Iterator[str]:
    api = create_app(deployment)
    api.state.ofrep_guards = ofrep.GuardSnapshots(ttl=TTL)
    with serving(api) as base:
        yield base


@pytest.fixture
def http(url: str, token: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


@pytest.fixture
def flags(url: str, token: str) -> Iterator[OpenFeatureClient]:
    """An OpenFeature client on the OFREP provider, with the app token in its headers."""
    domain = f"fireline-{uuid.uuid4().hex}"
    provider = OFREPProvider(url, headers_factory=lambda: {"Authorization": f"Bearer {token}"})
    openfeature.set_provider(provider, domain)
    yield openfeature.get_client(domain)
    openfeature.clear_providers()


def put(app: Fireline, feature: str, level: int, probe_share: float = 0.0, minute: int = 5) -> None:
    with app.state.unit_of_work() as tx:
        tx.put_guard(
            Guard(
                feature=feature,
                level=ContainmentLevel(level),
                reason=f"test level {level}",
                probe_share=probe_share,
                set_by="policy:default",
                updated_at=T0 + timedelta(minutes=minute),
            )
        )


def eventually(condition: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


USER = EvaluationContext(targeting_key="user-1")

# ---------------------------------------------------------------- the OpenFeature SDK


def test_an_unguarded_feature_reads_as_enabled_at_level_0_in_normal_mode(
    flags: OpenFeatureClient,
) -> None:
    enabled = flags.get_boolean_details("support-bot.enabled", False, USER)
    assert (enabled.value, enabled.reason, enabled.variant) == (True, Reason.STATIC, "on")
    assert enabled.error_code is None
    assert flags.get_integer_value("support-bot.level", -1, USER) == 0
    assert flags.get_string_value("support-bot.mode", "?", USER) == "normal"


def test_flags_flip_when_a_guard_is_set_and_lifted(
    deployment: Fireline, flags: OpenFeatureClient
) -> None:
    put(deployment, "support-bot", 4)
    eventually(lambda: flags.get_boolean_value("support-bot.enabled", True, USER) is False)
    assert flags.get_integer_value("support-bot.level", -1, USER) == 4
    assert flags.get_string_value("support-bot.mode", "?", USER) == "disabled"
    details = flags.get_boolean_details("support-bot.enabled", True, USER)
    assert details.flag_metadata["guardReason"] == "test level 4"

    put(deployment, "support-bot", 3, minute=6)
    eventually(lambda: flags.get_string_value("support-bot.mode", "?", USER) == "fallback")
    assert flags.get_boolean_value("support-bot.enabled", False, USER) is True

    put(deployment, "support-bot", 0, minute=7)
    eventually(lambda: flags.get_integer_value("support-bot.level", -1, USER) == 0)
    assert flags.get_boolean_value("support-bot.enabled", False, USER) is True


def test_a_full_shutdown_on_one_feature_shuts_down_every_feature(
    deployment: Fireline, flags: OpenFeatureClient
) -> None:
    put(deployment, "summarizer", 1)
    put(deployment, "platform", 5)
    eventually(lambda: flags.get_integer_value("summarizer.level", -1, USER) == 5)
    for feature in ("summarizer", "support-bot", "never-guarded"):
        assert flags.get_boolean_value(f"{feature}.enabled", True, USER) is False
        assert flags.get_string_value(f"{feature}.mode", "?", USER) == "shutdown"
    details = flags.get_integer_details("support-bot.level", -1, USER)
    assert details.flag_metadata["shutdownBy"] == "platform"


def test_the_probe_share_is_decided_per_targeting_key_and_stays_decided(
    deployment: Fireline, flags: OpenFeatureClient
) -> None:
    put(deployment, "support-bot", 4, probe_share=0.3)
    eventually(lambda: flags.get_integer_value("support-bot.level", -1, USER) == 4)
    users = [EvaluationContext(targeting_key=f"user-{n}") for n in range(300)]
    first = [flags.get_boolean_value("support-bot.enabled", False, u) for u in users]
    again = [flags.get_boolean_value("support-bot.enabled", False, u) for u in users]
    assert first == again
    assert 0.2 < sum(first) / len(first) < 0.4
    probe = users[first.index(True)]
    assert flags.get_boolean_details("support-bot.enabled", False, probe).variant == "probe"


def test_without_a_targeting_key_no_request_is_a_probe(
    deployment: Fireline, flags: OpenFeatureClient
) -> None:
    put(deployment, "support-bot", 4, probe_share=1.0)
    eventually(lambda: flags.get_integer_value("support-bot.level", -1) == 4)
    details = flags.get_boolean_details("support-bot.enabled", True)
    assert (details.value, details.reason, details.error_code) == (False, Reason.DEFAULT, None)


def test_an_unknown_flag_gives_the_apps_default_with_flag_not_found(
    flags: OpenFeatureClient,
) -> None:
    details = flags.get_boolean_details("support-bot.colour", True, USER)
    assert (details.value, details.error_code) == (True, ErrorCode.FLAG_NOT_FOUND)


def test_a_wrong_token_gives_the_apps_default(url: str) -> None:
    provider = OFREPProvider(url, headers_factory=lambda: {"Authorization": "Bearer fl_nope"})
    openfeature.set_provider(provider, "fireline-bad-token")
    try:
        details = openfeature.get_client("fireline-bad-token").get_boolean_details(
            "support-bot.enabled", True, USER
        )
    finally:
        openfeature.clear_providers()
    assert (details.value, details.error_code) == (True, ErrorCode.GENERAL)


# ---------------------------------------------------------------- raw HTTP: errors


SINGLE = "/ofrep/v1/evaluate/flags/support-bot.enabled"
BULK = "/ofrep/v1/evaluate/flags"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "PARSE_ERROR"),
        (b"[1, 2]", "PARSE_ERROR"),
        (b'"context"', "PARSE_ERROR"),
        (b"[" * 100_000, "PARSE_ERROR"),
        (b"{}" + b" " * (ofrep.MAX_BODY_BYTES + 1), "PARSE_ERROR"),
        (b'{"context": [1]}', "INVALID_CONTEXT"),
        (b'{"context": "user-1"}', "INVALID_CONTEXT"),
        (b'{"context": {"targetingKey": 42}}', "INVALID_CONTEXT"),
        (b'{"context": {"targetingKey": "' + b"u" * 2000 + b'"}}', "INVALID_CONTEXT"),
    ],
)
def test_a_bad_body_is_a_400_with_an_ofrep_error_code(
    http: httpx.Client, body: bytes, code: str
) -> None:
    single = http.post(SINGLE, content=body, headers={"Content-Type": "application/json"})
    assert single.status_code == 400
    assert single.json()["key"] == "support-bot.enabled"
    assert single.json()["errorCode"] == code
    assert single.json()["errorDetails"]
    bulk = http.post(BULK, content=body, headers={"Content-Type": "application/json"})
    assert bulk.status_code == 400
    assert bulk.json()["errorCode"] == code
    assert "key" not in bulk.json()


@pytest.mark.parametrize(
    "key", ["support-bot.colour", "support-bot", ".enabled", "-bad.enabled", "a" * 200 + ".level"]
)
def test_an_unknown_flag_is_a_404_flag_not_found(http: httpx.Client, key: str) -> None:
    answer = http.post(f"/ofrep/v1/evaluate/flags/{key}", json={"context": {}})
    assert answer.status_code == 404
    assert answer.json()["errorCode"] == "FLAG_NOT_FOUND"
    assert answer.json()["key"] == key


def test_an_empty_body_or_context_is_an_empty_context(http: httpx.Client) -> None:
    for body in (b"", b"{}", b'{"context": null}', b'{"context": {"targetingKey": ""}}'):
        answer = http.post(SINGLE, content=body)
        assert answer.status_code == 200, answer.text
        assert answer.json()["value"] is True


def test_a_feature_name_with_dots_and_slashes_is_one_feature(
    deployment: Fireline, http: httpx.Client
) -> None:
    put(deployment, "team/search.v2", 2)
    eventually(
        lambda: http.post("/ofrep/v1/evaluate/flags/team/search.v2.level").json()["value"] == 2
    )
    answer = http.post("/ofrep/v1/evaluate/flags/team/search.v2.mode").json()
    assert answer == {
        "key": "team/search.v2.mode",
        "value": "review",
        "reason": "STATIC",
        "variant": "review",
        "metadata": {
            "feature": "team/search.v2",
            "level": 2,
            "mode": "review",
            "probeShare": 0.0,
            "guardReason": "test level 2",
            "updatedAt": (T0 + timedelta(minutes=5)).isoformat(),
        },
    }


def test_a_request_without_a_token_is_refused(url: str) -> None:
    assert httpx.post(f"{url}{SINGLE}", json={}).status_code == 401
    assert httpx.post(f"{url}{BULK}", json={}).status_code == 401


def test_the_last_snapshot_is_served_when_the_store_cannot_be_read(
    deployment: Fireline, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(deployment, "support-bot", 4)
    eventually(lambda: http.post(SINGLE, json={}).json()["value"] is False)

    def unavailable(_: Fireline) -> Any:
        raise StoreUnavailable("the state store is locked")

    monkeypatch.setattr(ofrep, "_read_guards", unavailable)
    time.sleep(2 * TTL)
    answer = http.post(SINGLE, json={})
    assert (answer.status_code, answer.json()["value"]) == (200, False)


def test_no_snapshot_and_no_store_is_a_503_general_error(
    deployment: Fireline, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(_: Fireline) -> Any:
        raise StoreUnavailable("the state store is locked")

    monkeypatch.setattr(ofrep, "_read_guards", unavailable)
    with serving(create_app(deployment)) as base:
        answer = httpx.post(
            f"{base}{SINGLE}", json={}, headers={"Authorization": f"Bearer {token}"}
        )
    assert answer.status_code == 503
    assert answer.json()["errorCode"] == "GENERAL"


# ---------------------------------------------------------------- raw HTTP: bulk and ETags


def test_bulk_evaluation_lists_every_guarded_feature_with_an_etag(
    deployment: Fireline, http: httpx.Client
) -> None:
    put(deployment, "support-bot", 4)
    put(deployment, "summarizer", 1)
    eventually(lambda: len(http.post(BULK, json={}).json()["flags"]) == 6)
    answer = http.post(BULK, json={"context": {"targetingKey": "user-1"}})
    assert answer.status_code == 200
    assert answer.headers["ETag"].startswith('"')
    values = {flag["key"]: flag["value"] for flag in answer.json()["flags"]}
    assert values == {
        "summarizer.enabled": True,
        "summarizer.level": 1,
        "summarizer.mode": "warn",
        "support-bot.enabled": False,
        "support-bot.level": 4,
        "support-bot.mode": "disabled",
    }


def test_if_none_match_gives_304_until_a_guard_or_the_context_changes(
    deployment: Fireline, http: httpx.Client
) -> None:
    put(deployment, "support-bot", 1)
    eventually(lambda: len(http.post(BULK, json={}).json()["flags"]) == 3)
    body: dict[str, Any] = {"context": {"targetingKey": "user-1", "plan": "pro"}}
    first = http.post(BULK, json=body)
    tag = first.headers["ETag"]

    same = http.post(BULK, json=body, headers={"If-None-Match": tag})
    assert (same.status_code, same.content, same.headers["ETag"]) == (304, b"", tag)
    listed = http.post(BULK, json=body, headers={"If-None-Match": f'"other", W/{tag}'})
    assert listed.status_code == 304
    assert http.post(BULK, json=body, headers={"If-None-Match": "*"}).status_code == 304

    reordered = {"context": {"plan": "pro", "targetingKey": "user-1"}}
    assert http.post(BULK, json=reordered, headers={"If-None-Match": tag}).status_code == 304
    other_user = {"context": {"targetingKey": "user-2", "plan": "pro"}}
    changed_context = http.post(BULK, json=other_user, headers={"If-None-Match": tag})
    assert changed_context.status_code == 200
    assert changed_context.headers["ETag"] != tag

    put(deployment, "support-bot", 4, minute=6)
    eventually(
        lambda: http.post(BULK, json=body, headers={"If-None-Match": tag}).status_code == 200
    )
    fresh = http.post(BULK, json=body, headers={"If-None-Match": tag})
    assert fresh.headers["ETag"] != tag
    assert {f["key"]: f["value"] for f in fresh.json()["flags"]}["support-bot.level"] == 4


def test_the_routes_are_in_the_openapi_document(http: httpx.Client) -> None:
    paths = http.get("/openapi.json").json()["paths"]
    assert {"/ofrep/v1/evaluate/flags", "/ofrep/v1/evaluate/flags/{key}"} <= set(paths)
