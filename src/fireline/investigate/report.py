"""What an investigation found, and its JSON form."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fireline.investigate.segments import SegmentFinding
from fireline.investigate.suspects import Suspect


@dataclass(frozen=True, slots=True)
class Onset:
    """When the behaviour changed, between `low` and `high`; `method` says how it was found
    ("change_point", or "alert_window" when the series shows no clear change); `before` and
    `after` are the signal's level on each side (a rate, or a metric's mean)."""

    at: datetime
    low: datetime
    high: datetime
    method: str
    llr: float = 0.0
    before: float | None = None
    after: float | None = None


@dataclass(frozen=True, slots=True)
class BlastRadius:
    """The affected calls from the onset until `until`: when the harm ended, else the
    incident's resolution (or now while it is open)."""

    calls: int
    users: int
    tenants: int
    first: datetime | None
    last: datetime | None
    until: datetime
    live: bool
    why: str


@dataclass(frozen=True, slots=True)
class Investigation:
    """Onset, detection delay, suspects, segments in common and blast radius of an incident."""

    incident_id: int
    feature: str
    signal: str
    segment: dict[str, str]
    detected_at: datetime
    onset: Onset
    suspects: list[Suspect]
    segments: list[SegmentFinding]
    blast: BlastRadius
    notes: list[str] = field(default_factory=list)

    @property
    def detection_delay_s(self) -> float:
        return (self.detected_at - self.onset.at).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        return {
            "incident_id": self.incident_id,
            "feature": self.feature,
            "signal": self.signal,
            "segment": self.segment,
            "detected_at": self.detected_at,
            "onset": _onset(self.onset),
            "detection_delay_s": self.detection_delay_s,
            "suspects": [_suspect(s) for s in self.suspects],
            "segments": [_segment(s) for s in self.segments],
            "blast_radius": {
                "calls": self.blast.calls,
                "users": self.blast.users,
                "tenants": self.blast.tenants,
                "first": self.blast.first,
                "last": self.blast.last,
                "until": self.blast.until,
                "live": self.blast.live,
                "why": self.blast.why,
            },
            "notes": self.notes,
        }


def _onset(onset: Onset) -> dict[str, Any]:
    return {
        "at": onset.at,
        "low": onset.low,
        "high": onset.high,
        "method": onset.method,
        "llr": onset.llr,
        "before": onset.before,
        "after": onset.after,
    }


def _suspect(found: Suspect) -> dict[str, Any]:
    c = found.change
    concentration = found.concentration
    return {
        "change_id": c.change_id,
        "kind": c.kind.value,
        "version": c.version,
        "previous_version": c.previous_version,
        "feature": c.feature,
        "time": c.time,
        "author": c.author,
        "description": c.description,
        "gap_s": found.gap_s,
        "proximity": found.proximity,
        "score": found.score,
        "bad_calls": None if concentration is None else concentration.bad,
        "bad_on_version": None if concentration is None else concentration.bad_on_version,
        "share_bad": None if concentration is None else concentration.share_bad,
        "share_baseline": None if concentration is None else concentration.share_base,
        "lift": None if concentration is None else concentration.lift,
        "p_value": None if concentration is None else concentration.p_value,
        "rollback_available": found.rollback_available,
        "rollback_target": found.rollback_target,
    }


def _segment(found: SegmentFinding) -> dict[str, Any]:
    return {
        "dimension": found.dimension,
        "value": found.value,
        "affected": found.affected,
        "baseline": found.baseline,
        "share_affected": found.share_affected,
        "share_baseline": found.share_baseline,
        "lift": found.lift,
        "p_value": found.p_value,
        "q_value": found.q_value,
        "significant": found.significant,
    }
