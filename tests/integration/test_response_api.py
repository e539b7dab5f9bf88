"""People respond through the API: roles, severity, notes, lifecycle, the triage clock, and the
audit log that shows any edited or removed entry; served on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa

from fireline.clock import SimulatedClock
from fireline.domain.access import Role
from fireline.domain.incident import Incident, IncidentType
from fireline.domain.severity import Severity
from fireline.runtime import Fireline
from fireline.store.tables import timeline
from fireline.tokens import issue_token
from tests.conftest import T0


@pytest.fixture
def incident_id(deployment: tuple[Fireline, SimulatedClock]) -> int:
    app, clock = deployment
    with app.state.unit_of_work() as tx:
        found = tx.add_incident(
            Incident.detected(
                feature="support-bot",
                type=IncidentType.QUALITY,
                severity=Severity.P2,
                title="answers got worse",
                at=clock.now(),
            ),
            now=clock.now(),
        )
    assert found.incident_id is not None
    return found.incident_id


def client_for(
    deployment: tuple[Fireline, SimulatedClock], base_url: str, role: Role
) -> httpx.Client:
    app, clock = deployment
    token = issue_token(app.state, f"{role.value}-user", role, now=clock.now())
    return httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def commander(deployment, base_url) -> Iterator[httpx.Client]:
    with client_for(deployment, base_url, Role.COMMANDER) as http:
        yield http


def test_a_commander_assigns_roles_and_a_new_holder_takes_over_on_the_record(
    commander: httpx.Client, incident_id: int
) -> None:
    url = f"/api/incidents/{incident_id}/roles"
    assert commander.post(url, json={"role": "commander", "person": "ana"}).status_code == 200
    assert commander.post(url, json={"role": "technical_lead", "person": "ben"}).status_code == 200
    assert commander.post(url, json={"role": "commander", "person": "chloe"}).status_code == 200

    now = {(r["role"], r["person"]) for r in commander.get(url).json()}
    history = commander.get(url, params={"history": "true"}).json()
    timeline_messages = [
        e["message"] for e in commander.get(f"/api/incidents/{incident_id}").json()["timeline"]
    ]
    assert now == {("commander", "chloe"), ("technical_lead", "ben")}
    assert [r["ended_at"] is not None for r in history] == [True, False, False]
    assert "commander handed over from ana to chloe" in timeline_messages


def test_viewers_and_responders_are_refused_commander_actions_and_nothing_changes(
    deployment, base_url, incident_id: int, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        client_for(deployment, base_url, Role.VIEWER) as viewer,
        client_for(deployment, base_url, Role.RESPONDER) as responder,
    ):
        denied = [
            viewer.post(f"/api/incidents/{incident_id}/notes", json={"message": "hi"}),
            responder.post(
                f"/api/incidents/{incident_id}/severity", json={"severity": "P0", "reason": "x"}
            ),
            responder.post(
                f"/api/incidents/{incident_id}/roles", json={"role": "commander", "person": "x"}
            ),
        ]
        detail = viewer.get(f"/api/incidents/{incident_id}").json()

    assert [answer.status_code for answer in denied] == [403, 403, 403]
    assert detail["severity"] == "P2"
    assert detail["timeline"] == []
    assert sum("denied" in record.message for record in caplog.records) == 3


def test_severity_set_by_hand_goes_either_way_with_its_reason_on_the_timeline(
    commander: httpx.Client, incident_id: int
) -> None:
    up = commander.post(
        f"/api/incidents/{incident_id}/severity",
        json={"severity": "P1", "reason": "a regulated customer is affected"},
    )
    down = commander.post(
        f"/api/incidents/{incident_id}/severity", json={"severity": "P3", "reason": "false lead"}
    )
    bad = commander.post(f"/api/incidents/{incident_id}/severity", json={"severity": "P9"})

    assert (up.json()["severity"], down.json()["severity"]) == ("P1", "P3")
    assert bad.status_code == 422
    timeline_ = commander.get(f"/api/incidents/{incident_id}").json()["timeline"]
    assert "a regulated customer is affected" in timeline_[0]["message"]


def test_only_legal_lifecycle_moves_are_accepted(commander: httpx.Client, incident_id: int) -> None:
    url = f"/api/incidents/{incident_id}/state"
    triaged = commander.post(url, json={"state": "triaged", "reason": "looked at it"})
    backwards = commander.post(url, json={"state": "detected", "reason": "undo"})
    skipping = commander.post(url, json={"state": "reviewed", "reason": "done"})

    assert triaged.json()["state"] == "triaged"
    assert (backwards.status_code, skipping.status_code) == (409, 409)


def test_the_triage_clock_flags_overdue_steps_and_ticks_them_off(
    deployment: tuple[Fireline, SimulatedClock], commander: httpx.Client, incident_id: int
) -> None:
    _, clock = deployment
    clock.advance(25 * 60)
    url = f"/api/incidents/{incident_id}/checklist"

    before = {s["step"]: s["overdue"] for s in commander.get(url).json()}
    assert commander.post(f"{url}/bound").status_code == 204
    commander.post(f"/api/incidents/{incident_id}/notes", json={"message": "seen in evals too"})
    after = {s["step"]: s for s in commander.get(url).json()}
    unknown = commander.post(f"{url}/party")

    assert before == {"confirm": True, "bound": True, "classify": False, "communicate": False}
    shown = commander.get(f"/api/incidents/{incident_id}").json()["checklist"]
    assert [s["step"] for s in shown if s["done_at"]] == ["confirm", "bound"]
    assert after["bound"]["done_at"] is not None
    assert after["confirm"]["done_at"] is not None  # a note confirms the signal
    assert unknown.status_code == 422


def test_the_audit_log_finds_an_edited_and_a_removed_entry(
    deployment: tuple[Fireline, SimulatedClock],
    base_url: str,
    commander: httpx.Client,
    incident_id: int,
) -> None:
    app, clock = deployment
    for n in range(4):
        commander.post(f"/api/incidents/{incident_id}/notes", json={"message": f"note {n}"})
        clock.advance(60)
    with client_for(deployment, base_url, Role.ADMIN) as admin:
        answer = admin.get("/api/audit/verify")
        assert answer.status_code == 200, answer.text
        intact = answer.json()
        with app.state.engine.begin() as db:
            db.execute(timeline.update().where(timeline.c.message == "note 1").values(message="x"))
        edited = admin.get("/api/audit/verify").json()
        with app.state.engine.begin() as db:
            db.execute(timeline.update().where(timeline.c.message == "x").values(message="note 1"))
            db.execute(sa.delete(timeline).where(timeline.c.message == "note 2"))
        removed = admin.get("/api/audit/verify").json()
        viewer_try = commander.get("/api/audit/verify")

    assert (intact["ok"], intact["checked"]) == (True, 4)
    assert not edited["ok"]
    assert "edited" in edited["problems"][0]
    assert not removed["ok"]
    assert "removed" in removed["problems"][0]
    assert viewer_try.status_code == 403
    assert T0 + timedelta(minutes=4) <= clock.now()
