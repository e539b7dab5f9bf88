"""Fallback mode (level 3) sends a feature to the fallback named in configuration: the guard
carries the route through the API, the SDK and OFREP, and the timeline says where it went."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from openfeature import api as openfeature
from openfeature.client import OpenFeatureClient
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext

from fireline.clock import SimulatedClock
from fireline.config import parse_config
from fireline.domain.access import Role
from fireline.domain.alert import Alert
from fireline.domain.guard import ContainmentLevel
from fireline.domain.incident import IncidentType
from fireline.errors import ConfigError
from fireline.runtime import Fireline
from fireline.sdk import FirelineClient
from tests.conftest import T0
from tests.servers import token_for

CONFIG = """\
containment:
  fallbacks:
    support-bot:
      model: small-model
      prompt_version: v7-safe
    "*":
      path: canned-answer
"""


@pytest.fixture
def guard_config() -> str:
    return CONFIG


def fallback(commander: httpx.Client, feature: str, **controls: object) -> httpx.Response:
    body = {"level": 3, "reason": "answers drifted; use the fallback", **controls}
    answer = commander.put(f"/api/guards/{feature}", json=body)
    answer.raise_for_status()
    return answer


def test_the_api_guard_names_the_features_own_fallback(commander: httpx.Client) -> None:
    answer = fallback(commander, "support-bot")

    assert answer.json()["fallback"] == {"model": "small-model", "prompt_version": "v7-safe"}
    listed = commander.get("/api/guards", params={"active": "true"}).json()
    assert [g["fallback"] for g in listed] == [
        {"model": "small-model", "prompt_version": "v7-safe"}
    ]


def test_a_feature_without_its_own_fallback_gets_the_one_for_every_feature(
    commander: httpx.Client,
) -> None:
    answer = fallback(commander, "search")

    assert answer.json()["fallback"] == {"path": "canned-answer"}


def test_the_sdk_guard_carries_the_route_and_says_when_to_take_it(
    guarded: Fireline, guards_url: str, commander: httpx.Client
) -> None:
    fallback(commander, "support-bot", segment={"tenant": "acme"})

    with FirelineClient(guards_url, token_for(guarded, Role.APP)) as client:
        guard = client.guard("support-bot")

    acme, globex = guard.for_request({"tenant": "acme"}), guard.for_request({"tenant": "globex"})
    assert acme.in_fallback
    assert acme.fallback["model"] == "small-model"
    assert not globex.in_fallback  # outside the segment: the normal path


def test_ofrep_clients_read_the_fallback_route_in_the_flag_metadata(
    guarded: Fireline, guards_url: str, commander: httpx.Client
) -> None:
    fallback(commander, "support-bot")
    app_token = token_for(guarded, Role.APP)
    domain = f"fireline-{uuid.uuid4().hex}"
    headers = {"Authorization": f"Bearer {app_token}"}
    provider = OFREPProvider(guards_url, headers_factory=lambda: headers)
    openfeature.set_provider(provider, domain)
    try:
        flags: OpenFeatureClient = openfeature.get_client(domain)
        mode = flags.get_string_details("support-bot.mode", "normal", EvaluationContext("u-1"))
    finally:
        openfeature.clear_providers()

    assert mode.value == "fallback"
    assert mode.flag_metadata["fallbackModel"] == "small-model"
    assert mode.flag_metadata["fallbackPromptVersion"] == "v7-safe"


def test_no_fallback_metadata_outside_fallback_mode(
    guarded: Fireline, guards_url: str, commander: httpx.Client
) -> None:
    commander.put("/api/guards/support-bot", json={"level": 4, "reason": "off"}).raise_for_status()
    auth = {"Authorization": f"Bearer {token_for(guarded, Role.APP)}"}
    flag = f"{guards_url}/ofrep/v1/evaluate/flags/support-bot.mode"
    answer = httpx.post(flag, json={}, headers=auth)

    assert answer.json()["value"] == "disabled"
    assert not any(k.startswith("fallback") for k in answer.json()["metadata"])


def quality_alert() -> Alert:
    return Alert(
        detector="cusum_bernoulli",
        feature="support-bot",
        signal="refusal_rate",
        incident_type=IncidentType.QUALITY,
        fired_at=T0,
        window_start=T0 - timedelta(minutes=5),
        window_end=T0,
        baseline_value=0.01,
        current_value=0.3,
        p_value=1e-9,
    )


def test_the_policy_falls_back_to_the_configured_route_on_the_timeline() -> None:
    config = CONFIG + "  levels:\n    - {name: quality falls back, level: 3}\n"
    app = Fireline.in_memory(SimulatedClock(T0), config=parse_config(config))
    try:
        with app.responding() as tx:
            incident = app.incidents.on_alert(tx, quality_alert())
            entries = [e for e in tx.timeline(incident.incident_id or 0) if e.kind == "guard_set"]
        guard = app.guard("support-bot")
    finally:
        app.close()

    assert guard.level is ContainmentLevel.FALLBACK
    assert guard.fallback == {"model": "small-model", "prompt_version": "v7-safe"}
    assert "routed to model small-model, prompt version v7-safe" in entries[-1].message
    assert entries[-1].data["fallback"] == {"model": "small-model", "prompt_version": "v7-safe"}


def test_a_commander_setting_fallback_mode_without_a_route_is_told_on_the_timeline() -> None:
    app = Fireline.in_memory(SimulatedClock(T0))
    try:
        with app.responding() as tx:
            incident = app.incidents.on_alert(tx, quality_alert())
            app.actions.set_guard(
                tx, "support-bot", ContainmentLevel.FALLBACK, actor="human:ana", reason="drift"
            )
            entries = [e for e in tx.timeline(incident.incident_id or 0) if e.kind == "guard_set"]
    finally:
        app.close()

    assert "no fallback configured" in entries[-1].message
    assert entries[-1].data["fallback"] == {}


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ("    support-bot: {}\n", "at least one of model, prompt_version"),
        ("    support-bot: {modle: x}\n", "modle"),
        ("    support-bot: {model: ''}\n", "at least 1 character"),
    ],
)
def test_a_bad_fallback_is_a_config_error_with_its_line(section: str, problem: str) -> None:
    text = "containment:\n  fallbacks:\n" + section

    with pytest.raises(ConfigError) as raised:
        parse_config(text, source="fireline.yaml")

    assert problem in str(raised.value)
    assert "fireline.yaml:3" in str(raised.value)
