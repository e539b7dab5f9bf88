"""Update-cadence reminders: every 30 minutes for P0 and P1 by default, none once resolved."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from fireline.config import parse_config
from fireline.domain.incident import Incident, IncidentState, IncidentType
from fireline.domain.severity import Severity
from fireline.notify.cadence import due_reminder, due_reminders, next_update_due
from fireline.notify.config import Cadence
from tests.conftest import T0

MIN = timedelta(minutes=1)


def an_incident(severity: Severity = Severity.P1, incident_id: int = 1) -> Incident:
    detected = Incident.detected(
        feature="support-bot", type=IncidentType.QUALITY, severity=severity, title="t", at=T0
    )
    return replace(detected, incident_id=incident_id)


@pytest.mark.parametrize(
    ("severity", "minutes"), [("P0", 30), ("P1", 30), ("P2", None), ("P3", None)]
)
def test_the_default_cadence_is_30_minutes_for_p0_and_p1_only(severity, minutes):
    due = next_update_due(an_incident(Severity(severity)), None, Cadence())

    assert due == (None if minutes is None else T0 + minutes * MIN)


def test_no_reminder_before_the_interval_and_one_right_at_it():
    incident = an_incident()

    assert due_reminder(incident, None, T0 + 29 * MIN, Cadence()) is None
    reminder = due_reminder(incident, None, T0 + 30 * MIN, Cadence())
    assert reminder is not None
    assert reminder.due_at == T0 + 30 * MIN


def test_an_update_restarts_the_clock():
    incident = an_incident()

    assert due_reminder(incident, T0 + 20 * MIN, T0 + 45 * MIN, Cadence()) is None
    reminder = due_reminder(incident, T0 + 20 * MIN, T0 + 50 * MIN, Cadence())
    assert reminder is not None
    assert reminder.last_update_at == T0 + 20 * MIN


def test_a_missed_interval_gives_one_reminder_for_the_latest_boundary_with_its_own_key():
    incident = an_incident()

    first = due_reminder(incident, None, T0 + 35 * MIN, Cadence())
    later = due_reminder(incident, None, T0 + 95 * MIN, Cadence())

    assert first is not None
    assert later is not None
    assert later.due_at == T0 + 90 * MIN
    assert later.overdue_by(T0 + 95 * MIN) == 5 * MIN
    assert first.dedup_key != later.dedup_key
    assert due_reminder(incident, None, T0 + 40 * MIN, Cadence()).dedup_key == first.dedup_key


def test_a_resolved_incident_is_owed_no_update():
    resolved = an_incident().transition(IncidentState.RESOLVED, T0 + 5 * MIN)

    assert due_reminder(resolved, None, T0 + 3 * 60 * MIN, Cadence()) is None
    assert next_update_due(resolved, None, Cadence()) is None


def test_an_update_stamped_before_detection_does_not_move_the_cadence_back():
    reminder = due_reminder(an_incident(), T0 - 60 * MIN, T0 + 10 * MIN, Cadence())

    assert reminder is None


def test_the_cadence_is_configurable_per_severity():
    cadence = parse_config("notifications:\n  cadence: {P1: 10, P2: 60, P0: null}\n")
    cadence = cadence.notifications.cadence

    assert due_reminder(an_incident(Severity.P1), None, T0 + 10 * MIN, cadence) is not None
    assert due_reminder(an_incident(Severity.P2), None, T0 + 59 * MIN, cadence) is None
    assert due_reminder(an_incident(Severity.P2), None, T0 + 60 * MIN, cadence) is not None
    assert due_reminder(an_incident(Severity.P0), None, T0 + 600 * MIN, cadence) is None


def test_reminders_for_many_incidents_come_oldest_due_first():
    items = [
        (an_incident(Severity.P0, 1), T0 + 20 * MIN),
        (an_incident(Severity.P1, 2), None),
        (an_incident(Severity.P3, 3), None),
    ]

    reminders = due_reminders(items, T0 + 55 * MIN, Cadence())

    assert [(r.incident_id, r.due_at) for r in reminders] == [
        (2, T0 + 30 * MIN),
        (1, T0 + 50 * MIN),
    ]
