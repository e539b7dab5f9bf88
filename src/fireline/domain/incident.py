"""Incidents, their lifecycle as a transition table, and timeline entries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from fireline.domain.severity import Severity
from fireline.errors import IllegalTransition


class IncidentType(StrEnum):
    """What kind of harm the incident does."""

    AVAILABILITY = "availability"
    QUALITY = "quality"
    SAFETY = "safety"
    REPUTATION = "reputation"
    ECONOMIC = "economic"


#: The types from gravest to lightest: an incident whose alerts say several takes the gravest
#: (a PII leak found beside made-up citations is a safety incident).
GRAVITY = (
    IncidentType.SAFETY,
    IncidentType.REPUTATION,
    IncidentType.AVAILABILITY,
    IncidentType.QUALITY,
    IncidentType.ECONOMIC,
)


def graver(candidate: IncidentType, than: IncidentType) -> bool:
    """Whether `candidate` is a graver type than `than`.

    >>> graver(IncidentType.SAFETY, IncidentType.QUALITY)
    True
    >>> graver(IncidentType.ECONOMIC, IncidentType.QUALITY)
    False
    """
    return GRAVITY.index(candidate) < GRAVITY.index(than)


class IncidentState(StrEnum):
    """Where an incident is in its lifecycle, in order."""

    DETECTED = "detected"
    TRIAGED = "triaged"
    CONTAINED = "contained"
    INVESTIGATING = "investigating"
    REMEDIATING = "remediating"
    RESTORING = "restoring"
    RESOLVED = "resolved"
    REVIEWED = "reviewed"

    @property
    def is_open(self) -> bool:
        return self not in (IncidentState.RESOLVED, IncidentState.REVIEWED)


_S = IncidentState

#: The lifecycle. A state may move only to the states listed for it; adding a path is a
#: one-line change here rather than a new branch in some handler.
TRANSITIONS: Mapping[IncidentState, frozenset[IncidentState]] = {
    _S.DETECTED: frozenset({_S.TRIAGED, _S.RESOLVED}),
    _S.TRIAGED: frozenset({_S.CONTAINED, _S.INVESTIGATING, _S.RESOLVED}),
    _S.CONTAINED: frozenset({_S.INVESTIGATING, _S.REMEDIATING, _S.RESTORING, _S.RESOLVED}),
    _S.INVESTIGATING: frozenset({_S.CONTAINED, _S.REMEDIATING, _S.RESTORING, _S.RESOLVED}),
    _S.REMEDIATING: frozenset({_S.CONTAINED, _S.RESTORING, _S.RESOLVED}),
    _S.RESTORING: frozenset({_S.CONTAINED, _S.RESOLVED}),
    _S.RESOLVED: frozenset({_S.REVIEWED}),
    _S.REVIEWED: frozenset(),
}


def can_transition(source: IncidentState, target: IncidentState) -> bool:
    """Whether the lifecycle allows moving from `source` to `target`.

    >>> can_transition(IncidentState.DETECTED, IncidentState.TRIAGED)
    True
    >>> can_transition(IncidentState.RESOLVED, IncidentState.CONTAINED)
    False
    """
    return target in TRANSITIONS[source]


@dataclass(frozen=True, slots=True)
class Incident:
    """The unit of response: one harm to one feature, with its state and the time of each step."""

    feature: str
    type: IncidentType
    severity: Severity
    title: str
    state: IncidentState = IncidentState.DETECTED
    state_times: Mapping[IncidentState, datetime] = field(default_factory=dict)
    incident_id: int | None = None
    #: What kind of incident this is (feature, type, signal, segment dimensions), for
    #: recurrence; the NIST AI RMF characteristic it harms.
    fingerprint: str | None = None
    nist: str | None = None
    #: When a person first acknowledged it (the basis of MTTA).
    acknowledged_at: datetime | None = None

    @classmethod
    def detected(
        cls, *, feature: str, type: IncidentType, severity: Severity, title: str, at: datetime
    ) -> Incident:
        return cls(
            feature=feature,
            type=type,
            severity=severity,
            title=title,
            state_times={IncidentState.DETECTED: at},
        )

    @property
    def is_open(self) -> bool:
        return self.state.is_open

    @property
    def detected_at(self) -> datetime:
        return self.state_times[IncidentState.DETECTED]

    def time_of(self, state: IncidentState) -> datetime | None:
        return self.state_times.get(state)

    def transition(self, target: IncidentState, at: datetime) -> Incident:
        """Return the incident moved to `target` at `at`, or raise IllegalTransition."""
        if not can_transition(self.state, target):
            allowed = ", ".join(sorted(TRANSITIONS[self.state])) or "none"
            raise IllegalTransition(
                f"incident {self.incident_id}: cannot go from {self.state} to {target} "
                f"(allowed: {allowed})"
            )
        return replace(self, state=target, state_times={**self.state_times, target: at})


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One append-only line of an incident's record: who did what, when, and why."""

    incident_id: int
    at: datetime
    actor: str
    kind: str
    message: str
    data: Mapping[str, Any] = field(default_factory=dict)
    entry_id: int | None = None
