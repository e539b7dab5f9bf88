"""Update-cadence reminders: an open incident owes its audiences an update every N minutes.

Pure functions of the incident, the time of its last update and now; the caller decides
where the last update comes from and what to do with a due reminder.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fireline.domain.incident import Incident
from fireline.notify.config import Cadence


@dataclass(frozen=True, slots=True)
class Reminder:
    """An update is owed on `incident_id` since `due_at` (one per missed interval)."""

    incident_id: int
    due_at: datetime
    last_update_at: datetime
    interval: timedelta

    @property
    def dedup_key(self) -> str:
        """One reminder per incident and due time, however often the worker looks."""
        return f"reminder:{self.incident_id}:{self.due_at.isoformat()}"

    def overdue_by(self, now: datetime) -> timedelta:
        return now - self.due_at


def interval_for(incident: Incident, cadence: Cadence) -> timedelta | None:
    minutes = cadence.minutes(incident.severity)
    return None if minutes is None else timedelta(minutes=minutes)


def next_update_due(
    incident: Incident, last_update_at: datetime | None, cadence: Cadence
) -> datetime | None:
    """When the next update is due; None for a closed incident or a severity with no cadence."""
    interval = interval_for(incident, cadence)
    if interval is None or not incident.is_open:
        return None
    return _base(incident, last_update_at) + interval


def due_reminder(
    incident: Incident, last_update_at: datetime | None, now: datetime, cadence: Cadence
) -> Reminder | None:
    """The reminder due at `now`, if any: the latest interval boundary passed since the last
    update (or since detection), so a worker that was down sends one reminder, not a burst.

    >>> from dataclasses import replace
    >>> from datetime import UTC
    >>> from fireline.domain.incident import IncidentType
    >>> from fireline.domain.severity import Severity
    >>> t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    >>> incident = replace(Incident.detected(feature="bot", type=IncidentType.QUALITY,
    ...     severity=Severity.P1, title="t", at=t0), incident_id=7)
    >>> due_reminder(incident, None, t0 + timedelta(minutes=29), Cadence()) is None
    True
    >>> due_reminder(incident, None, t0 + timedelta(minutes=75), Cadence()).due_at.isoformat()
    '2026-03-02T10:00:00+00:00'
    """
    interval = interval_for(incident, cadence)
    if interval is None or not incident.is_open or incident.incident_id is None:
        return None
    base = _base(incident, last_update_at)
    if now < base + interval:
        return None
    missed = (now - base) // interval
    return Reminder(
        incident_id=incident.incident_id,
        due_at=base + interval * missed,
        last_update_at=base,
        interval=interval,
    )


def due_reminders(
    incidents: list[tuple[Incident, datetime | None]], now: datetime, cadence: Cadence
) -> list[Reminder]:
    """The reminders due at `now` for each (incident, last update), oldest due first."""
    found = [due_reminder(incident, last, now, cadence) for incident, last in incidents]
    return sorted((r for r in found if r is not None), key=lambda r: (r.due_at, r.incident_id))


def _base(incident: Incident, last_update_at: datetime | None) -> datetime:
    # An update before detection (clock skew between writers) must not move the cadence back.
    if last_update_at is None:
        return incident.detected_at
    return max(last_update_at, incident.detected_at)
