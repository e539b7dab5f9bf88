"""Alerts: one detector firing on one feature, with its evidence."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fireline.domain.incident import IncidentType
from fireline.domain.severity import Severity


@dataclass(frozen=True, slots=True)
class Alert:
    """One detector firing on one feature (and segment), with the numbers behind it."""

    detector: str
    feature: str
    signal: str
    incident_type: IncidentType
    fired_at: datetime
    window_start: datetime
    window_end: datetime
    baseline_value: float
    current_value: float
    p_value: float
    evidence: Mapping[str, Any] = field(default_factory=dict)
    segment: Mapping[str, str] = field(default_factory=dict)
    alert_id: int | None = None
    incident_id: int | None = None
    resolved_at: datetime | None = None
    #: Set by sources that grade their own alerts (Alertmanager's severity label); None lets
    #: the policy grade the alert from its signal.
    severity: Severity | None = None
    #: One line saying what fired, for sources whose alerts are not statistics; None lets
    #: the incident's record describe the signal, baseline and test.
    summary: str | None = None

    @property
    def at(self) -> datetime:
        return self.fired_at


@dataclass(frozen=True, slots=True)
class Recovery:
    """A detector that had fired now sees its signal back at baseline."""

    detector: str
    feature: str
    at: datetime
    evidence: Mapping[str, Any] = field(default_factory=dict)
    summary: str | None = None
    signal: str | None = None
    segment: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Level:
    """Where the signal of a detector that is still alarmed stands at the end of a tick."""

    detector: str
    feature: str
    signal: str
    at: datetime
    value: float
    segment: Mapping[str, str] = field(default_factory=dict)


#: What a detection tick reports, in event-time order.
DetectionEvent = Alert | Recovery
