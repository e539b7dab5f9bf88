"""The status page, summary.json and regulatory clocks over HTTP (uvicorn on loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from fireline.clock import SimulatedClock
from fireline.domain.access import Role
from fireline.domain.alert import Alert
from fireline.domain.guard import ContainmentLevel, Guard
from fireline.domain.incident import Incident, IncidentType, TimelineEntry
from fireline.domain.severity import Severity
from fireline.runtime import Fireline
from fireline.status.config import StatusSettings
from fireline.status.service import StatusService, status_service
from fireline.store.state import StateStore
from fireline.store.tables_status import regulatory_clocks
from fireline.tokens import issue_token
from tests.conftest import T0

Deployment = tuple[Fireline, SimulatedClock]
INTERNAL_TITLE = "refusal_rate up 9x on tenant=bigbank after prompt v42"
INTERNAL_NOTE = "SECRET: customer bigbank's SSNs seen in outputs; legal looped in"


def client_for(deployment: Deployment, base_url: str, role: Role | None) -> httpx.Client:
    """A client with a token of `role`, or none."""
    if role is None:
        return httpx.Client(base_url=base_url)
    app, clock = deployment
    token = issue_token(app.state, f"{role.value}-token", role, now=clock.now())
    return httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def incident_id(deployment: Deployment) -> int:
    """An open P1 incident on support-bot, its feature in fallback, with an internal note."""
    app, _ = deployment
    incident = Incident.detected(
        feature="support-bot",
        type=IncidentType.SAFETY,
        severity=Severity.P1,
        title=INTERNAL_TITLE,
        at=T0,
    )
    with app.state.unit_of_work() as tx:
        stored = tx.add_incident(incident, now=T0)
        assert stored.incident_id is not None
        tx.add_alert(
            Alert(
                detector="pii",
                feature="support-bot",
                signal="pii_hits",
                incident_type=IncidentType.SAFETY,
                fired_at=T0,
                window_start=T0 - timedelta(minutes=5),
                window_end=T0,
                baseline_value=0.0,
                current_value=12.0,
                p_value=1e-9,
                evidence={"calls": 480, "users": 37},
                segment={"tenant": "bigbank"},
                incident_id=stored.incident_id,
            )
        )
        tx.append_timeline(
            TimelineEntry(stored.incident_id, T0, "token:oncall", "note", INTERNAL_NOTE)
        )
        tx.put_guard(
            Guard(
                "support-bot",
                level=ContainmentLevel.FALLBACK,
                incident_id=stored.incident_id,
                updated_at=T0,
            )
        )
        tx.put_guard(Guard("search-answers", updated_at=T0 - timedelta(days=3)))
    return stored.incident_id


@pytest.fixture
def responder(deployment: Deployment, base_url: str) -> Iterator[httpx.Client]:
    with client_for(deployment, base_url, Role.RESPONDER) as http:
        yield http


@pytest.fixture
def commander(deployment: Deployment, base_url: str) -> Iterator[httpx.Client]:
    with client_for(deployment, base_url, Role.COMMANDER) as http:
        yield http


@pytest.fixture
def anonymous(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url) as http:
        yield http


def iso(text: str) -> datetime:
    stamp = datetime.fromisoformat(text)
    assert stamp.tzinfo is not None
    return stamp


def test_summary_json_is_public_and_has_statuspages_documented_shape(
    anonymous: httpx.Client, responder: httpx.Client, incident_id: int
) -> None:
    published = responder.post(
        "/api/status/updates",
        json={"incident_id": incident_id, "body": "Some answers are delayed.", "title": "Delays"},
    )
    assert published.status_code == 201
    response = anonymous.get("/api/v2/summary.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    summary = response.json()
    assert set(summary) == {"page", "status", "components", "incidents", "scheduled_maintenances"}

    page = summary["page"]
    assert set(page) == {"id", "name", "url", "time_zone", "updated_at"}
    assert (page["id"], page["name"], page["time_zone"]) == (
        "fireline",
        "Service status",
        "Etc/UTC",
    )
    assert iso(page["updated_at"]) == T0

    assert summary["status"] == {"indicator": "major", "description": "Partial System Outage"}

    components = {c["id"]: c for c in summary["components"]}
    assert set(components) == {"search-answers", "support-bot"}
    bot = components["support-bot"]
    assert bot["name"] == "support-bot"
    assert bot["status"] == "partial_outage"
    assert components["search-answers"]["status"] == "operational"
    assert [c["position"] for c in summary["components"]] == [1, 2]
    assert iso(bot["created_at"]) == T0
    assert iso(bot["updated_at"]) == T0
    assert bot["description"] is None
    assert bot["page_id"] == "fireline"
    assert (bot["group"], bot["group_id"], bot["showcase"], bot["only_show_if_degraded"]) == (
        False,
        None,
        False,
        False,
    )
    assert bot["start_date"] is None

    [incident] = summary["incidents"]
    assert incident["id"] == str(incident_id)
    assert incident["name"] == "Delays"
    assert incident["status"] == "investigating"
    assert incident["impact"] == "major"
    assert iso(incident["created_at"]) == T0
    assert iso(incident["updated_at"]) == T0
    assert iso(incident["started_at"]) == T0
    assert incident["monitoring_at"] is None
    assert incident["resolved_at"] is None
    assert incident["shortlink"].endswith(f"#incident-{incident_id}")
    assert incident["page_id"] == "fireline"
    assert [c["id"] for c in incident["components"]] == ["support-bot"]
    [update] = incident["incident_updates"]
    assert update["status"] == "investigating"
    assert update["body"] == "Some answers are delayed."
    assert update["incident_id"] == str(incident_id)
    assert update["id"] == str(published.json()["id"])
    assert iso(update["created_at"]) == iso(update["display_at"]) == T0
    assert update["affected_components"] is None
    assert update["deliver_notifications"] is False
    assert summary["scheduled_maintenances"] == []
    assert INTERNAL_TITLE not in response.text
    assert INTERNAL_NOTE not in response.text


def test_the_public_page_shows_published_updates_and_never_internal_text(
    anonymous: httpx.Client, responder: httpx.Client, incident_id: int
) -> None:
    before = anonymous.get("/status")
    assert before.status_code == 200
    assert "Partial System Outage" in before.text
    assert "Current incidents" not in before.text  # nothing published yet
    responder.post(
        "/api/status/updates",
        json={"incident_id": incident_id, "body": "We switched to a <b>safe</b> fallback."},
    )
    page = anonymous.get("/status")
    assert page.headers["content-type"].startswith("text/html")
    assert "We switched to a &lt;b&gt;safe&lt;/b&gt; fallback." in page.text
    assert "Service disruption: support-bot" in page.text
    assert INTERNAL_TITLE not in page.text
    assert INTERNAL_NOTE not in page.text
    assert "bigbank" not in page.text


def test_a_published_update_goes_on_the_timeline_and_is_listed(
    deployment: Deployment, responder: httpx.Client, incident_id: int
) -> None:
    response = responder.post(
        "/api/status/updates",
        json={"incident_id": incident_id, "body": "Fixed.", "status": "monitoring"},
    )
    assert response.status_code == 201
    assert response.json()["author"] == "token:responder-token"
    listed = responder.get("/api/status/updates", params={"incident_id": incident_id}).json()
    assert [(u["status"], u["body"]) for u in listed] == [("monitoring", "Fixed.")]
    with deployment[0].state.unit_of_work() as tx:
        kinds = [e.kind for e in tx.timeline(incident_id)]
    assert kinds == ["note", "status_update"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"body": "x"}, "incident_id"),
        ({"incident_id": 1, "body": ""}, "body"),
        ({"incident_id": 1, "body": "x", "status": "on_fire"}, "status"),
        ({"incident_id": 1, "body": "x", "internal": True}, "internal"),
    ],
)
def test_a_bad_update_is_refused_naming_the_field(
    responder: httpx.Client, incident_id: int, body: dict[str, Any], field: str
) -> None:
    response = responder.post("/api/status/updates", json=body)
    assert response.status_code == 422
    assert field in [str(part) for part in response.json()["detail"][0]["loc"]]


def test_an_update_about_an_unknown_incident_is_404(responder: httpx.Client) -> None:
    response = responder.post("/api/status/updates", json={"incident_id": 999, "body": "x"})
    assert response.status_code == 404


def test_publishing_needs_a_token_and_the_respond_permission(
    deployment: Deployment, base_url: str, anonymous: httpx.Client, incident_id: int
) -> None:
    update = {"incident_id": incident_id, "body": "x"}
    assert anonymous.post("/api/status/updates", json=update).status_code == 401
    with client_for(deployment, base_url, Role.VIEWER) as viewer:
        assert viewer.post("/api/status/updates", json=update).status_code == 403
        assert viewer.get("/api/status/updates").json() == []


def test_marking_reportable_starts_the_clock_on_the_timeline(
    deployment: Deployment, commander: httpx.Client, incident_id: int
) -> None:
    response = commander.post(
        f"/api/incidents/{incident_id}/reportable",
        json={"regime": "eu_ai_act", "variant": "death", "reason": "a patient died"},
    )
    assert response.status_code == 201
    clock = response.json()
    assert (clock["regime"], clock["variant"], clock["incident_id"]) == (
        "eu_ai_act",
        "death",
        incident_id,
    )
    assert iso(clock["started_at"]) == T0
    assert iso(clock["due_at"]) == T0 + timedelta(days=10)
    assert clock["overdue"] is False
    assert clock["started_by"] == "token:commander-token"
    with deployment[0].state.unit_of_work() as tx:
        [entry] = [e for e in tx.timeline(incident_id) if e.kind == "reportable"]
    assert "due 2026-03-12 09:00 UTC (10 days); a patient died" in entry.message
    assert entry.data["clock_id"] == clock["id"]


def test_open_clocks_are_listed_with_their_deadline_and_turn_overdue(
    deployment: Deployment, commander: httpx.Client, incident_id: int
) -> None:
    for regime in ("hipaa", "eu_ai_act"):
        commander.post(
            f"/api/incidents/{incident_id}/reportable", json={"regime": regime, "reason": "r"}
        )
    listed = commander.get("/api/regulatory/clocks").json()
    assert [(c["regime"], c["overdue"]) for c in listed] == [
        ("eu_ai_act", False),
        ("hipaa", False),
    ]
    assert listed[0]["seconds_left"] == timedelta(days=15).total_seconds()
    deployment[1].advance(timedelta(days=16).total_seconds())
    listed = commander.get("/api/regulatory/clocks").json()
    assert [(c["regime"], c["overdue"]) for c in listed] == [
        ("eu_ai_act", True),
        ("hipaa", False),
    ]
    reported = commander.post(f"/api/regulatory/clocks/{listed[0]['id']}/reported")
    assert reported.status_code == 200
    assert reported.json()["reported_by"] == "token:commander-token"
    assert [c["regime"] for c in commander.get("/api/regulatory/clocks").json()] == ["hipaa"]
    every = commander.get("/api/regulatory/clocks", params={"state": "all"}).json()
    assert len(every) == 2


def test_a_viewer_may_not_mark_an_incident_reportable_and_nothing_changes(
    deployment: Deployment, base_url: str, incident_id: int
) -> None:
    body = {"regime": "eu_ai_act", "reason": "r"}
    with client_for(deployment, base_url, Role.VIEWER) as viewer:
        response = viewer.post(f"/api/incidents/{incident_id}/reportable", json=body)
    assert response.status_code == 403
    with client_for(deployment, base_url, Role.RESPONDER) as responder:
        response = responder.post(f"/api/incidents/{incident_id}/reportable", json=body)
    assert response.status_code == 403
    with deployment[0].state.unit_of_work() as tx:
        assert tx.connection.execute(regulatory_clocks.select()).first() is None
        assert "reportable" not in [e.kind for e in tx.timeline(incident_id)]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"regime": "gdpr", "reason": "r"}, "regime"),
        ({"regime": "eu_ai_act", "variant": "flood", "reason": "r"}, "variant"),
        ({"regime": "data_breach", "reason": "r"}, "regime"),
        ({"regime": "eu_ai_act", "reason": "r", "aware_at": "2030-01-01T00:00:00Z"}, "aware_at"),
    ],
)
def test_bad_reportable_input_is_refused_naming_the_field(
    commander: httpx.Client, incident_id: int, body: dict[str, Any], field: str
) -> None:
    response = commander.post(f"/api/incidents/{incident_id}/reportable", json=body)
    assert response.status_code == 422
    assert response.json()["problems"][0]["field"] == field


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"regime": "eu_ai_act"}, "reason"),
        ({"regime": "EU AI Act!", "reason": "r"}, "regime"),
        ({"regime": "eu_ai_act", "reason": "r", "aware_at": "2026-03-01T00:00:00"}, "aware_at"),
    ],
)
def test_malformed_reportable_bodies_are_refused_naming_the_field(
    commander: httpx.Client, incident_id: int, body: dict[str, Any], field: str
) -> None:
    response = commander.post(f"/api/incidents/{incident_id}/reportable", json=body)
    assert response.status_code == 422
    assert field in [str(part) for part in response.json()["detail"][0]["loc"]]


def test_the_same_regime_cannot_be_started_twice_for_an_incident(
    commander: httpx.Client, incident_id: int
) -> None:
    body = {"regime": "hipaa", "reason": "r"}
    assert commander.post(f"/api/incidents/{incident_id}/reportable", json=body).status_code == 201
    again = commander.post(f"/api/incidents/{incident_id}/reportable", json=body)
    assert again.status_code == 422
    assert "already has an open 'hipaa' clock" in again.json()["detail"]


def test_an_earlier_awareness_time_moves_the_deadline(
    commander: httpx.Client, incident_id: int
) -> None:
    aware = (T0 - timedelta(days=1)).isoformat()
    response = commander.post(
        f"/api/incidents/{incident_id}/reportable",
        json={"regime": "eu_ai_act", "variant": "critical_infrastructure", "reason": "grid",
              "aware_at": aware},
    )  # fmt: skip
    assert iso(response.json()["due_at"]) == T0 + timedelta(days=1)


def test_the_report_draft_covers_the_four_questions_from_incident_and_timeline(
    commander: httpx.Client, incident_id: int
) -> None:
    commander.post(
        f"/api/incidents/{incident_id}/reportable",
        json={"regime": "eu_ai_act", "variant": "death", "reason": "a patient died"},
    )
    response = commander.get(f"/api/incidents/{incident_id}/regulatory-report")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/markdown")
    text = response.text
    for heading in (
        "## What happened",
        "## Who is affected",
        "## What was done",
        "## How it will be prevented",
    ):
        assert heading in text
    assert "EU AI Act serious incident report" in text
    assert "2026-03-12 09:00 UTC — variant: death (10 days" in text
    assert INTERNAL_NOTE in text  # the draft is internal: it quotes the timeline
    assert "tenant=bigbank" in text
    assert "users: 37" in text
    assert "a patient died" in text


def test_a_report_of_an_incident_not_marked_reportable_needs_a_regime(
    commander: httpx.Client, incident_id: int
) -> None:
    path = f"/api/incidents/{incident_id}/regulatory-report"
    assert commander.get(path).status_code == 404
    drafted = commander.get(path, params={"regime": "hipaa"})
    assert drafted.status_code == 200
    assert "HIPAA breach notification" in drafted.text


def test_reminders_come_due_once_each_through_the_tick_transaction(
    deployment: Deployment, commander: httpx.Client, incident_id: int
) -> None:
    app, clock = deployment
    commander.post(
        f"/api/incidents/{incident_id}/reportable", json={"regime": "hipaa", "reason": "r"}
    )
    service = status_service(app)

    def take() -> list[str]:
        with app.state.unit_of_work() as tx:
            return [r.point for r in service.take_due_reminders(tx, clock.now())]

    assert take() == []
    clock.advance(timedelta(days=31).total_seconds())
    assert take() == ["50%"]
    assert take() == []
    clock.advance(timedelta(days=30).total_seconds())  # a long downtime: one reminder
    assert take() == ["overdue"]
    assert take() == []


def test_the_service_works_the_same_on_sqlite_and_postgresql(state_store: StateStore) -> None:
    clock = SimulatedClock(T0)
    service = StatusService(state_store, clock, StatusSettings())
    with state_store.unit_of_work() as tx:
        stored = tx.add_incident(
            Incident.detected(
                feature="support-bot",
                type=IncidentType.QUALITY,
                severity=Severity.P2,
                title=INTERNAL_TITLE,
                at=T0,
            ),
            now=T0,
        )
        tx.save_state("detect/feature/search-answers", {}, now=T0)
    assert stored.incident_id is not None
    service.publish(stored.incident_id, body="Looking into it.", author="me", title="Slow")
    clock.advance(60)
    service.mark_reportable(
        stored.incident_id, regime="hipaa", variant=None, reason="r", actor="me"
    )
    summary = service.summary()
    assert [(c["id"], c["status"]) for c in summary["components"]] == [
        ("search-answers", "operational"),
        ("support-bot", "degraded_performance"),
    ]
    assert summary["incidents"][0]["name"] == "Slow"
    [view] = service.clocks()
    assert view.clock.due_at == T0 + timedelta(days=60, seconds=60)
    assert view.clock.started_at.tzinfo is not None
    clock.advance(timedelta(days=31).total_seconds())
    with state_store.unit_of_work() as tx:
        assert [r.point for r in service.take_due_reminders(tx, clock.now())] == ["50%"]
    assert service.clocks()[0].clock.reminders_sent == ("50%",)
