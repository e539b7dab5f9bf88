"""Alertmanager's webhook over real HTTP: uvicorn on loopback, httpx, the state store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from fireline.api.app import create_app
from fireline.clock import SimulatedClock
from fireline.config import Alertmanager, Config
from fireline.domain.access import Role
from fireline.domain.incident import IncidentState
from fireline.domain.severity import Severity
from fireline.playbooks.engine import by_playbook
from fireline.runtime import Fireline
from fireline.settings import Settings
from fireline.tokens import issue_token
from tests.conftest import T0
from tests.servers import serving

ZERO = "0001-01-01T00:00:00Z"
STARTED = T0 - timedelta(minutes=5)


def an_alert(
    status: str = "firing", fingerprint: str = "1a30ba71cca2921f", **labels: str
) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": "LLMErrorRate", "feature": "support-bot", **labels},
        "annotations": {"summary": "LLM provider errors above 20%", "runbook_url": "http://rb"},
        "startsAt": STARTED.isoformat().replace("+00:00", "Z"),
        "endsAt": (T0 + timedelta(minutes=3)).isoformat() if status == "resolved" else ZERO,
        "generatorURL": "http://prometheus:9090/graph?g0.expr=llm_errors",
        "fingerprint": fingerprint,
    }


def a_webhook(*alerts: dict[str, Any]) -> dict[str, Any]:
    return {
        "receiver": "fireline",
        "status": "firing" if any(a["status"] == "firing" for a in alerts) else "resolved",
        "alerts": list(alerts),
        "groupLabels": {"alertname": "LLMErrorRate"},
        "commonLabels": {"alertname": "LLMErrorRate"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": '{}:{alertname="LLMErrorRate"}',
        "truncatedAlerts": 0,
    }


def the_api(app: Fireline) -> FastAPI:
    return create_app(app)


@contextmanager
def alertmanager_client(app: Fireline, clock: SimulatedClock) -> Iterator[httpx.Client]:
    """A client holding an `app` token, as Alertmanager's http_config.authorization sends it."""
    token = issue_token(app.state, "alertmanager", Role.APP, now=clock.now())
    with (
        serving(the_api(app)) as url,
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http,
    ):
        yield http


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(T0)


@pytest.fixture
def app(clock: SimulatedClock) -> Iterator[Fireline]:
    instance = Fireline.in_memory(clock)
    yield instance
    instance.close()


@pytest.fixture
def client(app: Fireline, clock: SimulatedClock) -> Iterator[httpx.Client]:
    with alertmanager_client(app, clock) as http:
        yield http


def post(client: httpx.Client, *alerts: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/alertmanager", json=a_webhook(*alerts))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_critical_firing_alert_opens_a_p1_availability_incident_and_sets_the_kill_switch(
    client: httpx.Client, app: Fireline
) -> None:
    body = post(client, an_alert(severity="critical"))

    assert body["fired"] == 1
    assert body["processed"] == 1
    [incident] = app.list_incidents(open_only=True)
    assert body["incident_ids"] == [incident.incident_id]
    assert incident.feature == "support-bot"
    assert incident.type == "availability"
    assert incident.severity is Severity.P1
    assert incident.state is IncidentState.CONTAINED
    guard = app.guard("support-bot")
    assert guard.level == 4
    assert not guard.enabled
    assert guard.incident_id == incident.incident_id
    with app.state.unit_of_work(read_only=True) as tx:
        [alert] = tx.alerts()
        timeline = tx.timeline(incident.incident_id or 0)
    assert alert.detector == "alertmanager:LLMErrorRate:1a30ba71cca2921f"
    assert alert.fired_at == STARTED
    assert alert.evidence["annotations"]["runbook_url"] == "http://rb"
    assert alert.evidence["externalURL"] == "http://alertmanager:9093"
    ours = [e for e in timeline if not by_playbook(e.actor)]  # the playbook's are its own
    assert [e.kind for e in ours] == ["detected", "triaged", "guard_set"]
    assert ours[0].actor == "detector:alertmanager:LLMErrorRate:1a30ba71cca2921f"
    assert "graded P1 by its source" in ours[1].message
    # An external alert is not a statistic: the record says what fired, in its own words.
    assert incident.title.startswith("Alertmanager alert LLMErrorRate firing for support-bot")
    assert timeline[0].message == incident.title
    assert incident.title.endswith(": LLM provider errors above 20%")
    assert "baseline" not in incident.title


def test_alertmanager_resending_a_firing_alert_changes_nothing(
    client: httpx.Client, app: Fireline, clock: SimulatedClock
) -> None:
    first = post(client, an_alert(severity="critical"))
    with app.state.unit_of_work(read_only=True) as tx:
        entries = len(tx.timeline(first["incident_ids"][0]))

    for _ in range(3):
        clock.advance(300)  # group_interval
        again = post(client, an_alert(severity="critical"))
        assert (again["fired"], again["unchanged"]) == (0, 1)
        assert again["incident_ids"] == first["incident_ids"]

    assert len(app.list_incidents()) == 1
    with app.state.unit_of_work(read_only=True) as tx:
        assert len(tx.alerts()) == 1
        assert len(tx.timeline(first["incident_ids"][0])) == entries


def test_the_resolved_alert_resolves_the_incident_and_clears_the_guard(
    client: httpx.Client, app: Fireline, clock: SimulatedClock
) -> None:
    fired = post(client, an_alert(severity="critical"))
    clock.advance(600)

    body = post(client, an_alert("resolved", severity="critical"))

    assert (body["resolved"], body["unchanged"]) == (1, 0)
    assert body["incident_ids"] == fired["incident_ids"]
    assert app.list_incidents(open_only=True) == []
    [incident] = app.list_incidents()
    assert incident.state is IncidentState.RESOLVED
    assert app.guard("support-bot").enabled
    assert app.guard("support-bot").level == 0
    with app.state.unit_of_work(read_only=True) as tx:
        [alert] = tx.alerts()
        kinds = [e.kind for e in tx.timeline(incident.incident_id or 0)]
    assert alert.resolved_at == T0 + timedelta(minutes=3)  # Alertmanager's endsAt
    assert kinds[-3:] == ["recovered", "guard_cleared", "resolved"]

    repeat = post(client, an_alert("resolved", severity="critical"))
    assert (repeat["resolved"], repeat["unchanged"]) == (0, 1)


def test_a_resolved_alert_fireline_never_saw_is_a_no_op(
    client: httpx.Client, app: Fireline
) -> None:
    body = post(client, an_alert("resolved"))

    assert (body["processed"], body["resolved"], body["unchanged"]) == (1, 0, 1)
    assert app.list_incidents() == []


def test_a_warning_of_quality_on_a_user_facing_feature_switches_it_to_its_fallback(
    client: httpx.Client, app: Fireline
) -> None:
    post(client, an_alert(severity="warning", fireline_type="quality"))

    [incident] = app.list_incidents()
    assert (incident.type, incident.severity) == ("quality", Severity.P2)
    assert incident.state is IncidentState.CONTAINED
    assert app.guard("support-bot").level == 3  # the decision tree: quality, user-facing


def test_alerts_of_one_feature_share_an_incident_until_the_last_one_resolves(
    client: httpx.Client, app: Fireline
) -> None:
    warning = an_alert(fingerprint="00000000000000aa", severity="warning")
    critical = an_alert(fingerprint="00000000000000bb", severity="critical")
    post(client, warning)
    assert app.guard("support-bot").level == 1  # monitor and warn

    joined = post(client, warning, critical)  # the group's next notification repeats the first
    assert (joined["fired"], joined["unchanged"]) == (1, 1)
    [incident] = app.list_incidents()
    assert incident.severity is Severity.P1  # raised by the critical alert
    assert app.guard("support-bot").level == 4

    post(client, an_alert("resolved", "00000000000000aa", severity="warning"), critical)
    assert app.list_incidents(open_only=True) != []
    assert app.guard("support-bot").level == 4

    post(client, an_alert("resolved", "00000000000000bb", severity="critical"))
    assert app.list_incidents(open_only=True) == []
    assert app.guard("support-bot").enabled


def test_a_firing_alert_resent_after_a_person_resolved_its_incident_opens_a_new_one(
    client: httpx.Client, app: Fireline
) -> None:
    first = post(client, an_alert(severity="critical"))
    app.resolve(first["incident_ids"][0], actor="cli:alice", reason="provider fixed")

    again = post(client, an_alert(severity="critical"))

    assert again["fired"] == 1
    assert again["incident_ids"] != first["incident_ids"]
    assert len(app.list_incidents(open_only=True)) == 1


def test_skipped_alerts_are_reported_and_the_others_still_processed(
    client: httpx.Client, app: Fireline
) -> None:
    unlabelled = an_alert(fingerprint="00000000000000cc")
    del unlabelled["labels"]["feature"]
    bad_name = an_alert(fingerprint="00000000000000dd", feature="support bot")

    body = post(client, unlabelled, an_alert(), bad_name)

    assert (body["received"], body["processed"], body["fired"]) == (3, 1, 1)
    assert [(s["index"], s["fingerprint"]) for s in body["skipped"]] == [
        (0, "00000000000000cc"),
        (2, "00000000000000dd"),
    ]
    assert body["skipped"][0]["reason"] == "no 'feature' label to name the fireline feature"
    assert body["skipped"][0]["alertname"] == "LLMErrorRate"
    assert "not a feature name" in body["skipped"][1]["reason"]
    assert [i.feature for i in app.list_incidents()] == ["support-bot"]


def test_a_webhook_whose_alerts_are_all_skipped_still_gets_a_200(
    client: httpx.Client, app: Fireline
) -> None:
    unlabelled = an_alert()
    del unlabelled["labels"]["feature"]

    body = post(client, unlabelled)

    assert (body["processed"], len(body["skipped"])) == (0, 1)
    assert app.list_incidents() == []


def test_a_configured_feature_label_names_the_feature(clock: SimulatedClock) -> None:
    config = Config(alertmanager=Alertmanager(feature_label="service"))
    app = Fireline.in_memory(clock, config=config)
    try:
        with alertmanager_client(app, clock) as client:
            only_feature = an_alert()
            body = post(client, only_feature, an_alert(service="checkout-assistant"))
            assert [s["index"] for s in body["skipped"]] == [0]
            assert "no 'service' label" in body["skipped"][0]["reason"]
        [incident] = app.list_incidents()
        assert incident.feature == "checkout-assistant"
    finally:
        app.close()


def test_the_webhook_needs_a_token_that_may_ingest(app: Fireline, clock: SimulatedClock) -> None:
    viewer = issue_token(app.state, "dashboard", Role.VIEWER, now=clock.now())
    with serving(the_api(app)) as url:
        anonymous = httpx.post(f"{url}/v1/alertmanager", json=a_webhook(an_alert()))
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"] == "Bearer"
        refused = httpx.post(
            f"{url}/v1/alertmanager",
            json=a_webhook(an_alert()),
            headers={"Authorization": f"Bearer {viewer}"},
        )
        assert refused.status_code == 403
    assert app.list_incidents() == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "body must be a JSON object"),
        (b'{"receiver": "fireline"}', "field 'alerts': Field required"),
        (
            b'{"alerts": [{"status": "firing", "labels": {"feature": "f"}, "startsAt": "soon"}]}',
            "alert 0, field 'startsAt'",
        ),
        (
            b'{"alerts": [{"status": "resolved", "labels": {"feature": "f"}, '
            b'"startsAt": "2026-03-02T09:00:00Z", "endsAt": "0001-01-01T00:00:00Z"}]}',
            "alert 0, field 'endsAt'",
        ),
        (b'{"version": "5", "alerts": []}', "version '5' is not supported"),
    ],
    ids=["not json", "not an object", "no alerts", "bad startsAt", "zero endsAt", "version"],
)
def test_a_malformed_payload_gets_a_422_naming_the_problem(
    client: httpx.Client, body: bytes, expected: str
) -> None:
    response = client.post(
        "/v1/alertmanager", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert expected in response.json()["detail"]


def test_one_malformed_alert_refuses_the_whole_webhook(client: httpx.Client, app: Fireline) -> None:
    broken = {**an_alert(fingerprint="00000000000000ee"), "labels": {"feature": "x", "n": 1}}

    response = client.post("/v1/alertmanager", json=a_webhook(an_alert(), broken))

    assert response.status_code == 422
    assert response.json()["problems"] == [
        {"row": 1, "field": "labels.n", "message": "Input should be a valid string"}
    ]
    assert app.list_incidents() == []


def test_the_webhook_works_on_every_state_store_with_long_alert_names(
    tmp_path: Path, state_url: str, clock: SimulatedClock
) -> None:
    settings = Settings(data_dir=tmp_path, state_url=state_url)
    app = Fireline(settings, clock=clock, lateness_s=0, config=Config())
    long_name = "LLMProviderErrorRateAboveThreshold" * 6
    try:
        with alertmanager_client(app, clock) as client:
            fired = post(client, an_alert(alertname=long_name, severity="P0"))
            assert post(client, an_alert(alertname=long_name, severity="P0"))["unchanged"] == 1
            [incident] = app.list_incidents(open_only=True)
            assert incident.severity is Severity.P0
            assert app.guard("support-bot").level == 4
            clock.advance(600)
            resolved = post(client, an_alert("resolved", alertname=long_name, severity="P0"))
            assert resolved["incident_ids"] == fired["incident_ids"]
        assert app.list_incidents(open_only=True) == []
        assert app.guard("support-bot").enabled
    finally:
        app.close()
