"""Playbooks over HTTP (uvicorn on loopback): list, show, attach, checklist, tick."""

from __future__ import annotations

import httpx
import pytest

from fireline.clock import SimulatedClock
from fireline.domain.incident import Incident, IncidentType
from fireline.domain.severity import Severity
from fireline.runtime import Fireline
from tests.conftest import T0

Deployment = tuple[Fireline, SimulatedClock]


@pytest.fixture
def incident_id(deployment: Deployment) -> int:
    """An open safety incident on support-bot with no playbook yet."""
    app, _ = deployment
    with app.state.unit_of_work() as tx:
        found = tx.add_incident(
            Incident.detected(
                feature="support-bot",
                type=IncidentType.SAFETY,
                severity=Severity.P1,
                title="PII in answers for globex",
                at=T0,
            ),
            now=T0,
        )
    assert found.incident_id is not None
    return found.incident_id


def test_the_playbooks_in_use_are_listed_and_shown_in_full(viewer: httpx.Client) -> None:
    listed = viewer.get("/api/playbooks").json()
    shown = viewer.get("/api/playbooks/pii-leak").json()
    assert len(listed) == 11
    assert {p["origin"] for p in listed} == {"builtin"}
    assert shown["title"] == "PII leak"
    assert shown["playbook"]["containment"] == {
        "level": 5,
        "strategy": "rollback",
        "why": shown["playbook"]["containment"]["why"],
    }
    assert "customer" in shown["playbook"]["templates"]


def test_unknown_playbooks_incidents_and_steps_get_clear_errors(
    viewer: httpx.Client, responder: httpx.Client, incident_id: int
) -> None:
    unknown = viewer.get("/api/playbooks/gpu-fire")
    none_yet = viewer.get(f"/api/incidents/{incident_id}/playbook")
    no_incident = responder.post("/api/incidents/999/playbook")
    assert (unknown.status_code, none_yet.status_code, no_incident.status_code) == (404, 404, 404)
    assert "no playbook 'gpu-fire'" in unknown.json()["detail"]
    assert none_yet.json()["detail"] == f"incident {incident_id} has no playbook attached"
    responder.post(f"/api/incidents/{incident_id}/playbook", json={"playbook": "pii-leak"})
    bad_step = responder.post(f"/api/incidents/{incident_id}/playbook/steps/reboot")
    assert bad_step.status_code == 422
    assert "playbook pii-leak has no step 'reboot'" in bad_step.json()["detail"]


def test_a_responder_attaches_a_playbook_once_and_ticks_its_steps(
    viewer: httpx.Client, responder: httpx.Client, incident_id: int
) -> None:
    attached = responder.post(f"/api/incidents/{incident_id}/playbook")
    again = responder.post(f"/api/incidents/{incident_id}/playbook")
    ticked = responder.post(f"/api/incidents/{incident_id}/playbook/steps/find-affected")
    denied = viewer.post(f"/api/incidents/{incident_id}/playbook/steps/guardrail")
    shown = viewer.get(f"/api/incidents/{incident_id}/playbook").json()

    assert attached.status_code == 201
    assert attached.json()["playbook"]["id"] == "harmful-output"  # safety's default, no alerts
    assert again.status_code == 409
    assert ticked.status_code == 200
    assert denied.status_code == 403
    steps = {s["id"]: s for s in shown["steps"]}
    assert steps["find-affected"]["done_by"] == "token:responder-user"
    assert steps["guardrail"]["done"] is False
    assert shown["steps_done"] == 4
    assert shown["messages"]["internal"].startswith(
        f"[P1] Harmful output from support-bot (incident {incident_id})"
    )


def test_the_checklist_shows_who_did_each_step_and_the_rendered_messages(
    viewer: httpx.Client, responder: httpx.Client, incident_id: int
) -> None:
    responder.post(f"/api/incidents/{incident_id}/playbook", json={"playbook": "pii-leak"})
    ticked = responder.post(f"/api/incidents/{incident_id}/playbook/steps/count-exposed").json()
    steps = {s["id"]: s for s in ticked["steps"]}
    assert steps["record-onset"]["done_by"] == "playbook:pii-leak"
    assert steps["count-exposed"]["done_by"] == "token:responder-user"
    assert steps["purge"]["done"] is False
    assert ticked["steps_done"] == 5
    assert ticked["steps_total"] == 10
    assert "PII in answers for globex" in ticked["messages"]["internal"]
    assert set(ticked["messages"]) == {"internal", "status_page", "customer"}
