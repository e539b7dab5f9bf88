"""Severity levels P0–P3 and the response target each one carries."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from enum import StrEnum


class Severity(StrEnum):
    """How bad an incident is; P0 is the worst."""

    P0 = "P0"
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def rank(self) -> int:
        """0 for P0 up to 3 for P3, so that `min` picks the most severe."""
        return int(self.value[1])

    @property
    def response_target(self) -> str:
        return _TARGETS[self]


_LABELS = {
    Severity.P0: "critical",
    Severity.P1: "high",
    Severity.P2: "medium",
    Severity.P3: "low",
}
_TARGETS = {
    Severity.P0: "immediate",
    Severity.P1: "within 1 hour",
    Severity.P2: "within 4 hours",
    Severity.P3: "next business day",
}
_WITHIN = {
    Severity.P0: timedelta(0),
    Severity.P1: timedelta(hours=1),
    Severity.P2: timedelta(hours=4),
}


def response_due(severity: Severity, opened_at: datetime) -> datetime:
    """When a response must have started.

    P3 is due by the end of the next business day (Monday to Friday, in the timezone of
    `opened_at`).

    >>> from datetime import datetime, UTC
    >>> response_due(Severity.P1, datetime(2026, 3, 6, 17, 30, tzinfo=UTC)).isoformat()
    '2026-03-06T18:30:00+00:00'
    >>> response_due(Severity.P3, datetime(2026, 3, 6, 17, 30, tzinfo=UTC)).isoformat()
    '2026-03-10T00:00:00+00:00'
    """
    if severity in _WITHIN:
        return opened_at + _WITHIN[severity]
    day = opened_at.date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=opened_at.tzinfo)
