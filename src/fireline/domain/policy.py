"""The default response policy: how severe an incident is and how to contain it.

Pure functions of the evidence; later the same decisions come from declarative policy files.
"""

from __future__ import annotations

from dataclasses import dataclass

from fireline.domain.guard import ContainmentLevel
from fireline.domain.incident import IncidentType
from fireline.domain.severity import Severity

#: Share of requests failing at which an availability incident reaches each severity.
AVAILABILITY_SEVERITY = ((0.90, Severity.P0), (0.25, Severity.P1), (0.05, Severity.P2))

#: Share of requests an app keeps sending to a disabled feature's model, to see recovery.
DEFAULT_PROBE_SHARE = 0.05


def availability_severity(failing_share: float) -> tuple[Severity, str]:
    """Severity of an availability incident from the share of requests failing.

    >>> availability_severity(0.6)
    (<Severity.P1: 'P1'>, '60.0% of requests failing (>= 25% is P1)')
    """
    for floor, severity in AVAILABILITY_SEVERITY:
        if failing_share >= floor:
            return (
                severity,
                f"{failing_share:.1%} of requests failing (>= {floor:.0%} is {severity})",
            )
    return Severity.P3, f"{failing_share:.1%} of requests failing (below 5% is P3)"


def classify(
    incident_type: IncidentType, current_value: float, signal: str = "error_rate"
) -> tuple[Severity, str]:
    """Severity of an incident from its type and the alerting signal's current value.

    Only the share of failing requests grades an availability incident by itself; other
    signals (latency, volume, quality) start at P3 until a person or a rule triages them.
    """
    if incident_type is IncidentType.AVAILABILITY and signal == "error_rate":
        return availability_severity(current_value)
    return (
        Severity.P3,
        f"no severity rule for {signal.replace('_', ' ')} ({incident_type}) yet; P3 until triaged",
    )


@dataclass(frozen=True, slots=True)
class ContainmentDecision:
    """What the policy wants done to a feature's guard, and whether it may act alone."""

    level: ContainmentLevel
    reason: str
    automatic: bool
    probe_share: float = 0.0


def containment_for(incident_type: IncidentType, severity: Severity) -> ContainmentDecision | None:
    """The containment the default policy applies, or None to only monitor.

    An outage that fails at least a quarter of requests is better served by the app's own
    fallback than by errors and timeouts, so the kill switch is set automatically; the app keeps
    probing a small share of traffic so that recovery shows in the telemetry.
    """
    if incident_type is IncidentType.AVAILABILITY and severity.rank <= Severity.P1.rank:
        return ContainmentDecision(
            level=ContainmentLevel.FEATURE_DISABLED,
            reason=f"{severity} availability incident: kill switch until the provider recovers",
            automatic=True,
            probe_share=DEFAULT_PROBE_SHARE,
        )
    return None
