"""The scorecard of a drill, and the overall score of several."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

#: The precision and recall of the blast radius a drill asks for.
BLAST_TARGET = 0.9


@dataclass(frozen=True, slots=True)
class Scorecard:
    """The outcome of one drill against its scenario's expected outcome.

    Fields about the fault's incident are None for a scenario without a fault, and for one
    whose fault was not detected.
    """

    scenario: str
    seed: int
    detected: bool
    time_to_detect_s: float | None
    time_to_contain_s: float | None
    time_to_resolve_s: float | None
    incident_type: str | None
    type_correct: bool | None
    severity: str | None
    severity_correct: bool | None
    #: The strongest level decided for the incident: set by the policy, or proposed to the
    #: commander (a drill has nobody to approve), 0 for none.
    containment_level: int | None
    containment_correct: bool | None
    #: The level set on the guard without a person.
    containment_applied: int | None
    #: The rank of the scenario's root-cause change among investigation's suspects (1 is
    #: first), None when there is none to find or it was not found.
    root_cause_rank: int | None
    blast_radius_precision: float | None
    blast_radius_recall: float | None
    false_alarms: int
    eval_cases: int | None
    review_drafted: bool | None
    resolved: bool | None
    expected: dict[str, Any] | None
    fault_onset: str | None
    detected_at: str | None
    resolved_at: str | None
    incidents: int
    calls_recorded: int
    requests_served_by_fallback: int
    requests_turned_away: int
    failed_requests_seen_by_users: int
    simulated_seconds: float
    wall_seconds: float
    passed: bool
    failures: list[str] = field(default_factory=list)
    #: What each false alarm was: when, which feature, signal and segment.
    false_alarm_alerts: list[str] = field(default_factory=list)
    timeline: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def overall(cards: Sequence[Scorecard]) -> dict[str, Any]:
    """The summary of several drills: how many passed, and each target's hit rate.

    `score` is the share of the checks met over every scenario, 0 to 100.
    """
    faulty = [c for c in cards if c.expected is not None]
    checks = [_checks(c) for c in cards]
    met = sum(sum(found.values()) for found in checks)
    total = sum(len(found) for found in checks)
    detect = [c.time_to_detect_s for c in faulty if c.time_to_detect_s is not None]
    return {
        "scenarios": len(cards),
        "passed": sum(c.passed for c in cards),
        "fault_scenarios": len(faulty),
        "detected": sum(c.detected for c in faulty),
        "type_correct": sum(bool(c.type_correct) for c in faulty),
        "severity_correct": sum(bool(c.severity_correct) for c in faulty),
        "containment_correct": sum(bool(c.containment_correct) for c in faulty),
        "root_cause_first": sum(c.root_cause_rank == 1 for c in faulty),
        "root_cause_expected": sum(
            c.expected is not None and c.expected.get("root_cause_change") is not None
            for c in faulty
        ),
        "false_alarms": sum(c.false_alarms for c in cards),
        "median_time_to_detect_s": statistics.median(detect) if detect else None,
        "eval_cases": sum(c.eval_cases or 0 for c in cards),
        "score": round(100 * met / total, 1) if total else None,
    }


def _checks(card: Scorecard) -> dict[str, bool]:
    """Each target of the scenario and whether the drill met it."""
    found = {"no_false_alarms": card.false_alarms == 0}
    if card.expected is None:
        return found
    found["detected"] = card.detected
    found["type_correct"] = bool(card.type_correct)
    found["severity_correct"] = bool(card.severity_correct)
    found["containment_correct"] = bool(card.containment_correct)
    if card.expected.get("root_cause_change") is not None:
        found["root_cause_first"] = card.root_cause_rank == 1
    found["blast_radius"] = (card.blast_radius_precision or 0) >= BLAST_TARGET and (
        card.blast_radius_recall or 0
    ) >= BLAST_TARGET
    within = card.expected.get("detect_within")
    if within is not None:
        found["detected_in_time"] = (
            card.time_to_detect_s is not None and card.time_to_detect_s <= within
        )
    # A fault that lasts to the end should keep its incident open: resolving it would
    # declare a harm over that the users still meet.
    found["resolved"] = bool(card.resolved) == card.expected.get("resolves", True)
    return found


def failures_of(card: Scorecard) -> list[str]:
    """The targets a drill missed, in words."""
    found = _checks(card)
    words = {
        "no_false_alarms": f"{card.false_alarms} false alarm(s)",
        "detected": "fault not detected",
        "type_correct": f"type {card.incident_type}",
        "severity_correct": f"severity {card.severity}",
        "containment_correct": f"containment level {card.containment_level}",
        "root_cause_first": f"root-cause change ranked {card.root_cause_rank}",
        "blast_radius": f"blast radius precision {card.blast_radius_precision}, "
        f"recall {card.blast_radius_recall}",
        "detected_in_time": f"detected after {card.time_to_detect_s} s",
        "resolved": "incident not resolved"
        if (card.expected or {}).get("resolves", True)
        else "incident resolved while the fault went on",
    }
    expected = card.expected or {}
    hints = {
        "type_correct": f", expected {expected.get('incident_type')}",
        "severity_correct": f", expected {'/'.join(expected.get('severity', []))}",
        "containment_correct": f", expected {expected.get('containment_level')}",
        "root_cause_first": f" (change {expected.get('root_cause_change')})",
        "detected_in_time": f", expected within {expected.get('detect_within')} s",
    }
    if not found.get("detected", True):
        return [words["detected"]] + [words[k] for k in ("no_false_alarms",) if not found[k]]
    return [words[k] + hints.get(k, "") for k, ok in found.items() if not ok]


__all__ = ["BLAST_TARGET", "Scorecard", "failures_of", "overall"]
