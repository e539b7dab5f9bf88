"""Severity from the facts of an incident, by the points of the policy; pure functions."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from fireline.detect.base import SignalKind
from fireline.detect.catalog import SCAN_RATE, signal_named
from fireline.domain.incident import IncidentType
from fireline.domain.severity import Severity
from fireline.triage.policy import FeatureProfile, Floor, NistCategory, Step, Triage

#: Scanners whose hits say which NIST AI RMF characteristic was harmed.
_SCANNER_NIST: Mapping[str, NistCategory] = {
    "pii": "privacy",
    "tenant_leak": "privacy",
    "prompt_leak": "security",
    "injection": "security",
    "reputation": "accountability",
    "grounding": "reliability",
    "judge": "reliability",
    "answer": "reliability",
}
_TYPE_NIST: Mapping[IncidentType, NistCategory] = {
    IncidentType.AVAILABILITY: "reliability",
    IncidentType.QUALITY: "reliability",
    IncidentType.ECONOMIC: "reliability",
    IncidentType.SAFETY: "safety",
    IncidentType.REPUTATION: "accountability",
}


@dataclass(frozen=True, slots=True)
class Facts:
    """What triage knows of an incident when it grades it."""

    feature: str
    incident_type: IncidentType
    signal: str
    current: float
    baseline: float
    segment: Mapping[str, str] = field(default_factory=dict)
    #: Share of the feature's tenants or users in the affected segment (1 for the whole).
    segment_share: float = 1.0
    #: The signal is worse now than when the incident was detected.
    worsening: bool = False
    detection_delay_min: float = 0.0


@dataclass(frozen=True, slots=True)
class Grade:
    """A severity, its points, and one reason per factor that counted."""

    severity: Severity
    points: int
    reasons: tuple[str, ...]
    nist: NistCategory

    def explain(self) -> str:
        return f"{self.points} points ({'; '.join(self.reasons)})"


#: Signals that are whole distributions (drift tests), and the impact they count for.
DISTRIBUTIONS = frozenset({SignalKind.NUMERIC, SignalKind.CATEGORICAL, SignalKind.TEXT})
DRIFT_IMPACT = 0.05
#: Latency-like signals, their impact per relative slowdown, and the most they count for.
SLOWNESS = frozenset({"latency", "time_to_first_token"})
SLOWNESS_WEIGHT = 0.1
MAX_SLOWNESS_IMPACT = 0.25
#: Spend-like signals: dearer calls harm the budget, not the requests; the most they count
#: for is a few percent of requests harmed (a P3 on a feature of medium criticality, P2 as
#: it grows; a cost-per-hour budget breaker is the hard limit).
SPEND = frozenset({"input_tokens", "output_tokens", "cost_per_call", "calls_per_session"})
SPEND_WEIGHT = 0.02
MAX_SPEND_IMPACT = 0.04


def impact(signal: str, current: float, baseline: float) -> float:
    """Share of requests harmed: the failing share for error rates, a rate's excess over its
    baseline, a mean's (or count's) relative change.

    >>> impact("error_rate", 0.6, 0.01), round(impact("eval.accuracy", 0.72, 0.8), 3)
    (0.6, 0.1)
    >>> round(impact("latency", 2700.0, 900.0), 3)  # three times slower
    0.2
    >>> impact("finish_reasons", 0.04, 0.01)  # a drift test's statistic
    0.05
    """
    found = signal_named(signal)
    if signal == "error_rate" or found is None:
        return max(0.0, min(1.0, current))
    for names, weight, most in (
        # Slower answers are a degradation, not a failure: a tripled latency within the
        # SLA is a medium incident in the field's tables, however many requests it touches.
        (SLOWNESS, SLOWNESS_WEIGHT, MAX_SLOWNESS_IMPACT),
        (SPEND, SPEND_WEIGHT, MAX_SPEND_IMPACT),
    ):
        if signal in names:
            if baseline <= 0:
                return most if current > 0 else 0.0
            return min(most, weight * max(0.0, current / baseline - 1))
    if found.kind is SignalKind.RATE:
        return max(0.0, min(1.0, current - baseline))
    if found.kind in DISTRIBUTIONS:
        # A moved distribution says that calls changed, not how many were harmed.
        return DRIFT_IMPACT
    if baseline == 0:
        return 1.0 if current != 0 else 0.0
    return min(1.0, abs(current - baseline) / abs(baseline))


def nist_category(
    incident_type: IncidentType, signal: str, segment: Mapping[str, str], policy: Triage
) -> NistCategory:
    """The NIST AI RMF characteristic the incident harms.

    >>> nist_category(IncidentType.SAFETY, "scan.pii", {}, Triage())
    'privacy'
    """
    if any(dimension in policy.protected_segments for dimension in segment):
        return "fairness"
    if signal.startswith(SCAN_RATE):
        scanner = signal[len(SCAN_RATE) :]
        if scanner in _SCANNER_NIST:
            return _SCANNER_NIST[scanner]
    return _TYPE_NIST[incident_type]


def grade(facts: Facts, policy: Triage) -> Grade:
    """The severity the policy gives these facts, with its reasons.

    >>> quality = dict(incident_type=IncidentType.QUALITY, signal="eval.accuracy")
    >>> facts = Facts("diagnosis", current=0.72, baseline=0.8, **quality)
    >>> medical = Triage(features={"diagnosis": FeatureProfile(criticality="critical")})
    >>> grade(facts, medical).severity, grade(facts, Triage()).severity
    (<Severity.P0: 'P0'>, <Severity.P2: 'P2'>)
    """
    points = policy.points
    profile: FeatureProfile = policy.profile(facts.feature)
    reasons: list[str] = []
    total = 0

    def add(value: int, reason: str) -> None:
        nonlocal total
        if value:
            total += value
            reasons.append(f"{value:+d} {reason}")

    harmed = impact(facts.signal, facts.current, facts.baseline)
    add(_step(points.impact, harmed), f"impact: {harmed:.1%} of requests harmed")
    add(
        _step(points.blast_radius, facts.segment_share),
        f"blast radius: {facts.segment_share:.0%} of the feature's traffic",
    )
    add(points.criticality[profile.criticality], f"domain criticality {profile.criticality}")
    add(points.persistence[profile.persistence], f"outputs {profile.persistence.replace('_', ' ')}")
    add(points.reversibility[profile.reversibility], f"harm {profile.reversibility}")
    if facts.worsening:
        add(points.amplification, "amplification: getting worse")
    add(
        _step(points.detection_delay_min, facts.detection_delay_min),
        f"detected {facts.detection_delay_min:.0f} min after the evidence began",
    )
    if not profile.user_facing:
        add(points.internal, "internal feature")
    add(points.incident_type.get(facts.incident_type.value, 0), f"{facts.incident_type} incident")
    nist = nist_category(facts.incident_type, facts.signal, facts.segment, policy)
    severity = policy.thresholds.severity(total)
    for floor in policy.floors:
        if _matches(floor, facts, nist, profile) and floor.severity.rank < severity.rank:
            severity = floor.severity
            reasons.append(f"at least {floor.severity}: {floor.reason or nist}")
    return Grade(severity, total, tuple(reasons), nist)


def fingerprint(
    feature: str, incident_type: IncidentType, signal: str, segment: Mapping[str, str]
) -> str:
    """A stable id of what kind of incident this is, for recurrence: the same feature, type,
    signal and segment dimensions (not values, so tenant a and tenant b recur).

    >>> fingerprint("bot", IncidentType.AVAILABILITY, "error_rate", {}) == fingerprint(
    ...     "bot", IncidentType.AVAILABILITY, "error_rate", {})
    True
    """
    key = "|".join((feature, incident_type.value, signal, ",".join(sorted(segment))))
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _step(steps: Sequence[Step], value: float) -> int:
    for step in sorted(steps, key=lambda s: -s.at_least):
        if value >= step.at_least:
            return step.points
    return 0


def _matches(floor: Floor, facts: Facts, nist: str, profile: FeatureProfile) -> bool:
    return (
        (floor.incident_type is None or floor.incident_type == facts.incident_type.value)
        and (floor.nist is None or floor.nist == nist)
        and (floor.criticality is None or floor.criticality == profile.criticality)
    )
