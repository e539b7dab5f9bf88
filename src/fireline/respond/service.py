"""The incident service: turns detection events into incidents, timeline entries and guards."""

from __future__ import annotations

from dataclasses import replace

from fireline.clock import Clock
from fireline.detect.engine import TickResult
from fireline.domain.alert import Alert, Level, Recovery
from fireline.domain.guard import ContainmentLevel, Guard
from fireline.domain.incident import Incident, IncidentState, TimelineEntry, can_transition
from fireline.domain.policy import classify, containment_for
from fireline.domain.severity import Severity, response_due
from fireline.errors import IllegalTransition
from fireline.store.state import StateTx

POLICY_ACTOR = "policy:default"

#: Fewest calls in a bucket for its error rate to speak for "now" when grading severity.
_MIN_LATEST_CALLS = 30


class IncidentService:
    """Applies the response policy; every change it makes is written to the incident's timeline.

    Timeline entries and lifecycle times are the clock's time, when fireline acted; alerts
    keep the event time of the evidence (the end of the bucket that fired or recovered).
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def handle(self, tx: StateTx, result: TickResult) -> None:
        """Respond to a tick: its events in event-time order, then the levels of open alarms."""
        for event in result.events:
            if isinstance(event, Alert):
                self.on_alert(tx, event)
            else:
                self.on_recovery(tx, event)
        for level in result.levels:
            self.on_level(tx, level)

    def on_alert(self, tx: StateTx, alert: Alert) -> Incident:
        """Attach the alert to the feature's open incident, or open, triage and contain one."""
        now = self._clock.now()
        actor = f"detector:{alert.detector}"
        existing = tx.open_incident_for(alert.feature)
        if existing is not None and existing.incident_id is not None:
            tx.add_alert(replace(alert, incident_id=existing.incident_id))
            self._log(
                tx, existing.incident_id, actor, "alert", _describe(alert), dict(alert.evidence)
            )
            return self._grade(tx, existing, _current_level(alert), alert.severity)

        if alert.severity is not None:
            severity, why = alert.severity, f"graded {alert.severity} by its source"
        else:
            severity, why = classify(alert.incident_type, _current_level(alert))
        incident = tx.add_incident(
            Incident.detected(
                feature=alert.feature,
                type=alert.incident_type,
                severity=severity,
                title=alert.summary
                or f"{alert.signal.replace('_', ' ')} of {alert.feature} at "
                f"{_current_level(alert):.1%} (baseline {alert.baseline_value:.1%})",
                at=now,
            ),
            now=now,
        )
        incident_id = incident.incident_id
        assert incident_id is not None
        tx.add_alert(replace(alert, incident_id=incident_id))
        self._log(tx, incident_id, actor, "detected", _describe(alert), dict(alert.evidence))
        incident = incident.transition(IncidentState.TRIAGED, now)
        due = response_due(severity, now)
        self._log(
            tx,
            incident_id,
            POLICY_ACTOR,
            "triaged",
            f"type {incident.type}, severity {severity} ({severity.label}): {why}; "
            f"response {severity.response_target}, due {due.isoformat()}",
        )
        incident = self._contain(tx, incident)
        tx.save_incident(incident, now=now)
        return incident

    def on_level(self, tx: StateTx, level: Level) -> Incident | None:
        """Raise the severity of the alert's incident if the signal got worse."""
        alert = tx.open_alert(level.detector, level.feature)
        if alert is None or alert.incident_id is None:
            return None
        incident = tx.get_incident(alert.incident_id, for_update=True)
        return self._grade(tx, incident, level.value) if incident.is_open else incident

    def on_recovery(self, tx: StateTx, recovery: Recovery) -> Incident | None:
        """Close the alert; resolve its incident once none of its alerts is still firing."""
        alert = tx.open_alert(recovery.detector, recovery.feature)
        if alert is None or alert.alert_id is None or alert.incident_id is None:
            return None
        now = self._clock.now()
        tx.resolve_alert(alert.alert_id, recovery.at)
        incident = tx.get_incident(alert.incident_id, for_update=True)
        evidence = recovery.evidence
        message = recovery.summary or (
            f"{alert.signal.replace('_', ' ')} back to baseline: "
            f"{float(evidence.get('error_rate', 0.0)):.1%} of {evidence.get('calls')} calls "
            f"over the last {int(evidence.get('recovery_seconds', 0)) // 60} min"
        )
        actor = f"detector:{recovery.detector}"
        self._log(tx, alert.incident_id, actor, "recovered", message, dict(evidence))
        if not incident.is_open or tx.alerts(incident_id=alert.incident_id, open_only=True):
            return incident
        if can_transition(incident.state, IncidentState.RESTORING):
            incident = incident.transition(IncidentState.RESTORING, now)
            tx.save_incident(incident, now=now)
        return self.resolve(
            tx, alert.incident_id, actor=POLICY_ACTOR, reason="every alert recovered"
        )

    def resolve(self, tx: StateTx, incident_id: int, *, actor: str, reason: str) -> Incident:
        """Resolve an open incident, close its alerts and lift the guards it set.

        If the fault goes on, its detector alarms afresh and opens a new incident.
        """
        now = self._clock.now()
        incident = tx.get_incident(incident_id, for_update=True)
        if not incident.is_open:
            raise IllegalTransition(f"incident {incident_id} is already {incident.state}")
        for guard in tx.list_guards(active_only=True):
            if guard.incident_id == incident_id:
                tx.put_guard(
                    Guard(
                        guard.feature,
                        ContainmentLevel.NONE,
                        reason=f"incident {incident_id} resolved",
                        set_by=actor,
                        updated_at=now,
                    )
                )
                self._log(
                    tx,
                    incident_id,
                    actor,
                    "guard_cleared",
                    f"guard of {guard.feature} cleared (was level {int(guard.level)})",
                )
        for open_alert in tx.alerts(incident_id=incident_id, open_only=True):
            assert open_alert.alert_id is not None
            tx.resolve_alert(open_alert.alert_id, now)
        incident = incident.transition(IncidentState.RESOLVED, now)
        tx.save_incident(incident, now=now)
        self._log(tx, incident_id, actor, "resolved", reason)
        return incident

    def _grade(
        self, tx: StateTx, incident: Incident, value: float, given: Severity | None = None
    ) -> Incident:
        """Raise the incident's severity when `value` (or a source's own grade) calls for
        worse, and contain accordingly. Severity never drops by itself: a person lowers it.
        """
        if given is not None:
            severity, why = given, f"an alert graded {given} by its source joined"
        else:
            severity, why = classify(incident.type, value)
        if severity.rank >= incident.severity.rank:
            return incident
        assert incident.incident_id is not None
        now = self._clock.now()
        self._log(
            tx,
            incident.incident_id,
            POLICY_ACTOR,
            "severity_raised",
            f"severity raised from {incident.severity} to {severity} ({severity.label}): {why}; "
            f"response {severity.response_target}, due {response_due(severity, now).isoformat()}",
            {"from": incident.severity.value, "to": severity.value},
        )
        incident = self._contain(tx, replace(incident, severity=severity))
        tx.save_incident(incident, now=now)
        return incident

    def _contain(self, tx: StateTx, incident: Incident) -> Incident:
        """Apply the policy's automatic containment if it is stronger than the guard in place."""
        decision = containment_for(incident.type, incident.severity)
        if decision is None or not decision.automatic:
            return incident
        assert incident.incident_id is not None
        if tx.get_guard(incident.feature).level >= decision.level:
            return incident
        now = self._clock.now()
        tx.put_guard(
            Guard(
                feature=incident.feature,
                level=decision.level,
                reason=decision.reason,
                incident_id=incident.incident_id,
                probe_share=decision.probe_share,
                set_by=POLICY_ACTOR,
                updated_at=now,
            )
        )
        self._log(
            tx,
            incident.incident_id,
            POLICY_ACTOR,
            "guard_set",
            f"guard of {incident.feature} set to level {int(decision.level)} "
            f"({decision.level.description}): {decision.reason}",
            {"level": int(decision.level), "probe_share": decision.probe_share},
        )
        if can_transition(incident.state, IncidentState.CONTAINED):
            incident = incident.transition(IncidentState.CONTAINED, now)
        return incident

    def _log(
        self,
        tx: StateTx,
        incident_id: int,
        actor: str,
        kind: str,
        message: str,
        data: dict[str, object] | None = None,
    ) -> None:
        tx.append_timeline(
            TimelineEntry(incident_id, self._clock.now(), actor, kind, message, data or {})
        )


def _current_level(alert: Alert) -> float:
    """The alerting signal as it stands now: its latest bucket when that bucket has traffic."""
    latest = alert.evidence.get("latest_error_rate")
    if latest is None or int(alert.evidence.get("latest_calls", 0)) < _MIN_LATEST_CALLS:
        return alert.current_value
    return max(alert.current_value, float(latest))


def _describe(alert: Alert) -> str:
    if alert.summary is not None:
        return alert.summary
    evidence = alert.evidence
    return (
        f"{alert.signal.replace('_', ' ')} of {alert.feature} {alert.current_value:.1%} over the "
        f"last {int(evidence.get('window_seconds', 0)) // 60} min ({evidence.get('errors')} of "
        f"{evidence.get('calls')} calls; {float(evidence.get('latest_error_rate', 0)):.1%} in the "
        f"last bucket) against a baseline of {alert.baseline_value:.2%} "
        f"(p = {alert.p_value:.2g}, alpha = {float(evidence.get('alpha', 0)):.2g})"
    )
