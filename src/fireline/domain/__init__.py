"""The functional core: plain types and rules with no I/O.

Everything here is deterministic and testable without a database, a network or a real clock.
"""

from fireline.domain.alert import Alert, Recovery
from fireline.domain.guard import ContainmentLevel, Guard
from fireline.domain.incident import (
    Incident,
    IncidentState,
    IncidentType,
    TimelineEntry,
    can_transition,
)
from fireline.domain.severity import Severity, response_due
from fireline.domain.telemetry import Call, CallStatus, Change, ChangeKind, Feedback, FeedbackKind

__all__ = [
    "Alert",
    "Call",
    "CallStatus",
    "Change",
    "ChangeKind",
    "ContainmentLevel",
    "Feedback",
    "FeedbackKind",
    "Guard",
    "Incident",
    "IncidentState",
    "IncidentType",
    "Recovery",
    "Severity",
    "TimelineEntry",
    "can_transition",
    "response_due",
]
