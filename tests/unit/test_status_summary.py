"""The public status summary (Statuspage's summary.json shape) and the page rendered from it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from fireline.domain.guard import ContainmentLevel, Guard
from fireline.domain.incident import Incident, IncidentState, IncidentType
from fireline.domain.severity import Severity
from fireline.status.config import Component, PageSettings
from fireline.status.page import render_page
from fireline.status.summary import PublicStatus, PublicUpdate, build_summary, public_status
from tests.conftest import T0

PAGE = PageSettings(id="acme", name="Acme status", url="https://status.example.test/")
INTERNAL_TITLE = "bernoulli_cusum: refusal_rate up on tenant=bigbank (p=1e-9)"


def an_incident(
    incident_id: int = 1,
    feature: str = "support-bot",
    severity: Severity = Severity.P1,
    state: IncidentState = IncidentState.DETECTED,
) -> Incident:
    incident = Incident.detected(
        feature=feature,
        type=IncidentType.QUALITY,
        severity=severity,
        title=INTERNAL_TITLE,
        at=T0,
    )
    times = {state: T0 + timedelta(minutes=5), IncidentState.DETECTED: T0}
    return Incident(
        feature=incident.feature,
        type=incident.type,
        severity=incident.severity,
        title=incident.title,
        state=state,
        state_times=times,
        incident_id=incident_id,
    )


def an_update(
    minutes: int,
    status: PublicStatus = PublicStatus.INVESTIGATING,
    body: str = "We are looking into wrong answers.",
    title: str | None = None,
    incident_id: int = 1,
) -> PublicUpdate:
    return PublicUpdate(
        incident_id=incident_id,
        status=status,
        body=body,
        created_at=T0 + timedelta(minutes=minutes),
        author="token:alice",
        title=title,
        update_id=minutes,
    )


def summarize(
    incidents: list[Incident] | None = None,
    guards: list[Guard] | None = None,
    updates: list[PublicUpdate] | None = None,
    components: list[Component] | None = None,
) -> dict[str, Any]:
    return build_summary(
        page=PAGE,
        components=components or [Component(feature="support-bot"), Component(feature="search")],
        incidents=incidents or [],
        guards=guards or [],
        updates=updates or [],
        first_seen={"support-bot": T0 - timedelta(days=30)},
        now=T0 + timedelta(hours=1),
    )


def statuses(summary: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["status"] for c in summary["components"]}


def test_with_nothing_wrong_every_component_is_operational_and_all_systems_operational() -> None:
    summary = summarize()
    assert statuses(summary) == {"support-bot": "operational", "search": "operational"}
    assert summary["status"] == {"indicator": "none", "description": "All Systems Operational"}
    assert summary["incidents"] == []
    assert summary["scheduled_maintenances"] == []


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        (ContainmentLevel.NONE, "operational"),
        (ContainmentLevel.WARN, "degraded_performance"),
        (ContainmentLevel.HUMAN_REVIEW, "degraded_performance"),
        (ContainmentLevel.FALLBACK, "partial_outage"),
        (ContainmentLevel.FEATURE_DISABLED, "major_outage"),
        (ContainmentLevel.FULL_SHUTDOWN, "major_outage"),
    ],
)
def test_a_guard_sets_its_feature_component_status(level: ContainmentLevel, expected: str) -> None:
    guard = Guard("support-bot", level=level, updated_at=T0)
    assert statuses(summarize(guards=[guard]))["support-bot"] == expected


@pytest.mark.parametrize(
    ("severity", "component", "impact"),
    [
        (Severity.P0, "major_outage", "critical"),
        (Severity.P1, "partial_outage", "major"),
        (Severity.P2, "degraded_performance", "minor"),
        (Severity.P3, "degraded_performance", "minor"),
    ],
)
def test_an_open_incident_degrades_its_component_by_severity_and_sets_its_impact(
    severity: Severity, component: str, impact: str
) -> None:
    summary = summarize(incidents=[an_incident(severity=severity)], updates=[an_update(1)])
    assert statuses(summary) == {"support-bot": component, "search": "operational"}
    assert summary["incidents"][0]["impact"] == impact


def test_the_worse_of_guard_and_incident_wins() -> None:
    guard = Guard("support-bot", level=ContainmentLevel.FEATURE_DISABLED, updated_at=T0)
    summary = summarize(incidents=[an_incident(severity=Severity.P3)], guards=[guard])
    assert statuses(summary)["support-bot"] == "major_outage"


def test_a_resolved_incident_no_longer_degrades_its_component() -> None:
    resolved = an_incident(state=IncidentState.RESOLVED)
    summary = summarize(incidents=[resolved], updates=[an_update(1)])
    assert statuses(summary)["support-bot"] == "operational"
    assert summary["incidents"] == []


def test_an_incident_nobody_published_is_not_listed_though_its_component_is_degraded() -> None:
    summary = summarize(incidents=[an_incident(severity=Severity.P1)])
    assert summary["incidents"] == []
    assert statuses(summary)["support-bot"] == "partial_outage"
    assert summary["status"] == {"indicator": "major", "description": "Partial System Outage"}


def test_a_published_incident_shows_its_public_title_and_updates_newest_first() -> None:
    updates = [
        an_update(2, title="Wrong answers in the assistant"),
        an_update(9, PublicStatus.IDENTIFIED, "The cause is a prompt change; rolling back."),
    ]
    incident = summarize(incidents=[an_incident()], updates=updates)["incidents"][0]
    assert incident["name"] == "Wrong answers in the assistant"
    assert incident["status"] == "identified"
    assert [u["status"] for u in incident["incident_updates"]] == ["identified", "investigating"]
    assert incident["created_at"] == "2026-03-02T09:02:00.000+00:00"
    assert incident["updated_at"] == "2026-03-02T09:09:00.000+00:00"
    assert incident["started_at"] == "2026-03-02T09:00:00.000+00:00"
    assert incident["shortlink"] == "https://status.example.test/#incident-1"
    assert [c["id"] for c in incident["components"]] == ["support-bot"]
    assert INTERNAL_TITLE not in str(summarize(incidents=[an_incident()], updates=updates))


def test_an_incident_published_without_a_title_is_named_by_its_feature() -> None:
    incident = summarize(incidents=[an_incident()], updates=[an_update(1)])["incidents"][0]
    assert incident["name"] == "Service disruption: support-bot"


def test_the_first_monitoring_update_sets_monitoring_at() -> None:
    updates = [
        an_update(1),
        an_update(5, PublicStatus.MONITORING, "Fix deployed."),
        an_update(8, PublicStatus.MONITORING, "Still watching."),
    ]
    incident = summarize(incidents=[an_incident()], updates=updates)["incidents"][0]
    assert incident["monitoring_at"] == "2026-03-02T09:05:00.000+00:00"
    assert incident["resolved_at"] is None


def test_an_incident_whose_latest_update_says_resolved_leaves_the_list() -> None:
    updates = [an_update(1), an_update(30, PublicStatus.RESOLVED, "All good now.")]
    assert summarize(incidents=[an_incident()], updates=updates)["incidents"] == []


def test_the_indicator_is_the_worst_of_components_and_published_impacts() -> None:
    guard = Guard("search", level=ContainmentLevel.WARN, updated_at=T0)
    summary = summarize(
        incidents=[an_incident(severity=Severity.P0)], guards=[guard], updates=[an_update(1)]
    )
    assert summary["status"] == {"indicator": "critical", "description": "Major Service Outage"}


def test_the_indicator_is_minor_when_a_component_is_only_degraded() -> None:
    guard = Guard("search", level=ContainmentLevel.HUMAN_REVIEW, updated_at=T0)
    assert summarize(guards=[guard])["status"] == {
        "indicator": "minor",
        "description": "Minor Service Outage",
    }


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (IncidentState.DETECTED, "investigating"),
        (IncidentState.TRIAGED, "investigating"),
        (IncidentState.CONTAINED, "investigating"),
        (IncidentState.INVESTIGATING, "investigating"),
        (IncidentState.REMEDIATING, "identified"),
        (IncidentState.RESTORING, "monitoring"),
        (IncidentState.RESOLVED, "resolved"),
        (IncidentState.REVIEWED, "resolved"),
    ],
)
def test_every_lifecycle_state_reads_as_a_statuspage_status(
    state: IncidentState, expected: str
) -> None:
    assert public_status(state).value == expected


def test_every_documented_field_is_present() -> None:
    summary = summarize(incidents=[an_incident()], updates=[an_update(1)])
    assert set(summary) == {"page", "status", "components", "incidents", "scheduled_maintenances"}
    assert set(summary["page"]) == {"id", "name", "url", "time_zone", "updated_at"}
    component_keys = {
        "id", "name", "status", "created_at", "updated_at", "position", "description",
        "showcase", "start_date", "group_id", "page_id", "group", "only_show_if_degraded",
    }  # fmt: skip
    assert all(set(c) == component_keys for c in summary["components"])
    incident = summary["incidents"][0]
    assert set(incident) == {
        "id", "name", "status", "created_at", "updated_at", "monitoring_at", "resolved_at",
        "impact", "shortlink", "started_at", "page_id", "incident_updates", "components",
    }  # fmt: skip
    assert set(incident["incident_updates"][0]) == {
        "id", "status", "body", "incident_id", "created_at", "updated_at", "display_at",
        "affected_components", "deliver_notifications", "custom_tweet", "tweet_id",
    }  # fmt: skip


def test_components_follow_the_configured_order_names_and_first_seen_times() -> None:
    components = [
        Component(feature="search", name="Search answers"),
        Component(feature="support-bot", name="Support assistant", description="Chat help"),
    ]
    found = summarize(components=components)["components"]
    assert [(c["id"], c["name"], c["position"]) for c in found] == [
        ("search", "Search answers", 1),
        ("support-bot", "Support assistant", 2),
    ]
    assert found[1]["description"] == "Chat help"
    assert found[1]["created_at"] == "2026-01-31T09:00:00.000+00:00"
    assert found[1]["page_id"] == "acme"


def test_the_page_updated_at_is_the_latest_change_shown() -> None:
    guard = Guard("search", level=ContainmentLevel.WARN, updated_at=T0 + timedelta(minutes=40))
    summary = summarize(incidents=[an_incident()], guards=[guard], updates=[an_update(20)])
    assert summary["page"]["updated_at"] == "2026-03-02T09:40:00.000+00:00"


def test_a_feature_known_without_a_time_does_not_make_the_page_look_just_updated() -> None:
    summary = summarize(incidents=[an_incident()], updates=[an_update(20)])
    assert summary["page"]["updated_at"] == "2026-03-02T09:20:00.000+00:00"


def test_the_page_shows_published_updates_escaped_and_never_the_internal_title() -> None:
    updates = [an_update(3, body="Answers may be wrong <script>alert(1)</script>")]
    html = render_page(summarize(incidents=[an_incident()], updates=updates))
    assert "Answers may be wrong &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>" not in html
    assert INTERNAL_TITLE not in html
    assert "Partial System Outage" in html
    assert 'id="incident-1"' in html


def test_the_page_shows_times_in_the_page_time_zone() -> None:
    page = PageSettings(name="Acme", time_zone="Europe/Paris")
    summary = build_summary(
        page=page,
        components=[Component(feature="support-bot")],
        incidents=[an_incident()],
        guards=[],
        updates=[an_update(3)],
        first_seen={},
        now=T0,
    )
    assert "2026-03-02 10:03 CET" in render_page(summary)
