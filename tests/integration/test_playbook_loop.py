"""Playbooks in the loop: an alert opens an incident, the engine attaches the matching
playbook and runs its automatic steps, people tick the rest."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from fireline.clock import SimulatedClock
from fireline.domain.alert import Alert
from fireline.domain.incident import Incident, IncidentType
from fireline.domain.severity import Severity
from fireline.domain.telemetry import Change, ChangeKind
from fireline.errors import InvalidInput
from fireline.playbooks import engine
from fireline.playbooks.library import library
from fireline.runtime import Fireline
from tests.conftest import T0


@pytest.fixture
def app() -> Iterator[Fireline]:
    """An in-memory deployment whose incident service attaches the built-in playbooks."""
    instance = Fireline.in_memory(SimulatedClock(T0))
    instance.incidents.playbooks = library()
    yield instance
    instance.close()


def alert(signal: str, kind: IncidentType, current: float, **segment: str) -> Alert:
    return Alert(
        detector="cusum_bernoulli",
        feature="support-bot",
        signal=signal,
        incident_type=kind,
        fired_at=T0,
        window_start=T0 - timedelta(minutes=10),
        window_end=T0,
        baseline_value=0.01,
        current_value=current,
        p_value=1e-6,
        segment=segment,
    )


def test_an_alert_opens_an_incident_with_its_playbook_and_automatic_steps_on_the_timeline(
    app: Fireline,
) -> None:
    with app.state.unit_of_work() as tx:
        tx.add_changes(
            [
                Change(
                    "prompt-v2", T0 - timedelta(minutes=20), ChangeKind.PROMPT, "v2", "support-bot"
                ),
            ]
        )
        incident = app.incidents.on_alert(
            tx, alert("refusal_rate", IncidentType.QUALITY, 0.12, prompt_version="v2")
        )
        assert incident.incident_id is not None
        entries = tx.timeline(incident.incident_id)
        found = engine.attached(tx, incident.incident_id)

    attached = next(e for e in entries if e.kind == "playbook_attached")
    steps = [e for e in entries if e.kind == "playbook_step"]
    assert attached.data == {"playbook": "quality-regression", "title": "Quality regression"}
    assert [e.data["step"] for e in steps] == [
        "record-onset",
        "propose-fallback",
        "draft-internal-update",
    ]
    assert all(
        e.data["automatic"] is True and e.actor == "playbook:quality-regression" for e in steps
    )
    assert "prompt v2 at" in steps[0].message
    assert steps[0].data["changes"] == ["prompt-v2"]
    draft = next(e for e in entries if e.kind == "message_drafted")
    assert draft.message.startswith(f"[{incident.severity}] Quality regression on support-bot")
    assert found.done == 3
    assert len(found.steps) == 11
    assert [s.step.id for s in found.steps if not s.done][:2] == [
        "confirm-with-evals",
        "roll-back-change",
    ]


def test_the_playbook_proposes_its_level_to_the_commander_when_the_guard_is_below_it(
    app: Fireline,
) -> None:
    with app.state.unit_of_work() as tx:
        incident = tx.add_incident(
            Incident.detected(
                feature="support-bot",
                type=IncidentType.AVAILABILITY,
                severity=Severity.P2,
                title="errors",
                at=T0,
            ),
            now=T0,
        )
        chosen = engine.attach(tx, incident, T0, playbooks=library())
        again = engine.attach(tx, incident, T0, playbooks=library())
        assert incident.incident_id is not None
        entries = tx.timeline(incident.incident_id)

    assert chosen is not None
    assert chosen.id == "provider-outage"
    assert again is None  # attached once
    proposed = [e for e in entries if e.kind == "containment_proposed"]
    assert [(e.actor, e.data["level"], e.data["strategy"]) for e in proposed] == [
        ("playbook:provider-outage", 4, "kill_switch")
    ]
    assert [e.data["template"] for e in entries if e.kind == "message_drafted"] == ["status_page"]


def test_a_note_step_puts_its_guidance_on_the_timeline(app: Fireline) -> None:
    with app.state.unit_of_work() as tx:
        incident = app.incidents.on_alert(tx, alert("cost_per_call", IncidentType.ECONOMIC, 9.0))
        assert incident.incident_id is not None
        notes = [
            e for e in tx.timeline(incident.incident_id) if e.data.get("step") == "cap-guidance"
        ]
    assert len(notes) == 1
    assert "Throttle the feature or the offending tenant" in notes[0].message


def test_a_person_ticks_the_other_steps_once_and_unknown_steps_are_refused(app: Fireline) -> None:
    with app.state.unit_of_work() as tx:
        incident = app.incidents.on_alert(
            tx, alert("scan.pii", IncidentType.SAFETY, 0.04, tenant="globex")
        )
        assert incident.incident_id is not None
        ticked = engine.tick(tx, incident.incident_id, "count-exposed", actor="ana", now=T0)
        twice = engine.tick(tx, incident.incident_id, "count-exposed", actor="bo", now=T0)
        with pytest.raises(InvalidInput, match="playbook pii-leak has no step 'reboot'"):
            engine.tick(tx, incident.incident_id, "reboot", actor="ana", now=T0)
        kinds = [e.kind for e in tx.timeline(incident.incident_id)]

    step = next(s for s in twice.steps if s.step.id == "count-exposed")
    assert ticked.playbook.id == "pii-leak"
    assert (step.done_by, step.automatic) == ("ana", False)
    assert kinds.count("playbook_step") == 5  # four automatic, one by ana


def test_a_deployment_attaches_the_matching_playbook_with_no_configuration() -> None:
    bare = Fireline.in_memory(SimulatedClock(T0))
    try:
        with bare.state.unit_of_work() as tx:
            incident = bare.incidents.on_alert(
                tx, alert("error_rate", IncidentType.AVAILABILITY, 0.6)
            )
            assert incident.incident_id is not None
            attached = [
                e for e in tx.timeline(incident.incident_id) if e.kind == "playbook_attached"
            ]
    finally:
        bare.close()
    assert [e.data["playbook"] for e in attached] == ["provider-outage"]
