"""The scorecard of a drill: what was detected, how fast, and what the response did."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Scorecard:
    """The outcome of one drill against its scenario's ground truth."""

    scenario: str
    seed: int
    detected: bool
    time_to_detect_s: float | None
    severity: str | None
    incident_type: str | None
    containment_level: int
    kill_switch_set: bool
    kill_switch_cleared: bool
    false_alarms: int
    resolved: bool
    time_to_resolve_after_fault_s: float | None
    fault_onset: str | None
    fault_end: str | None
    detected_at: str | None
    resolved_at: str | None
    incidents: int
    calls_recorded: int
    requests_served_by_fallback: int
    failed_requests_seen_by_users: int
    simulated_seconds: int
    wall_seconds: float
    passed: bool
    failures: list[str]
    timeline: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
