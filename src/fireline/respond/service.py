"""The incident service: turns detection events into incidents, timeline entries and guards."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from fireline.clock import Clock
from fireline.contain.config import Containment
from fireline.detect.base import SignalKind
from fireline.detect.catalog import signal_named
from fireline.detect.engine import TickResult
from fireline.domain.alert import Alert, Level, Recovery
from fireline.domain.guard import ContainmentLevel, Guard
from fireline.domain.incident import (
    Incident,
    IncidentState,
    TimelineEntry,
    can_transition,
    graver,
)
from fireline.domain.policy import classify
from fireline.domain.severity import Severity, response_due
from fireline.errors import IllegalTransition
from fireline.notify.message import Event
from fireline.playbooks.engine import attach as attach_playbook
from fireline.playbooks.library import Library
from fireline.respond import restoring
from fireline.respond.containing import POLICY_ACTOR, contain
from fireline.store.state import StateTx
from fireline.triage.grading import Facts, Grade, fingerprint, grade, impact, nist_category
from fireline.triage.policy import Triage

#: Tells people of an incident event (the notifications outbox), in the same transaction.
Notify = Callable[[StateTx, Incident, Event], None]


def _silent(tx: StateTx, incident: Incident, event: Event) -> None:
    """No one to tell (tests, drills without channels)."""


#: Fewest calls in a bucket for its error rate to speak for "now" when grading severity.
_MIN_LATEST_CALLS = 30


class IncidentService:
    """Applies the response policy; every change it makes is written to the incident's timeline.

    Timeline entries and lifecycle times are the clock's time, when fireline acted; alerts
    keep the event time of the evidence (the end of the bucket that fired or recovered).
    """

    def __init__(
        self,
        clock: Clock,
        *,
        notify: Notify | None = None,
        triage: Triage | None = None,
        containment: Containment | None = None,
        playbooks: Library | None = None,
    ) -> None:
        self._clock = clock
        self.clock = clock
        self._notify = notify or _silent
        self.triage = triage or Triage()
        self.containment = containment or Containment()
        #: Attached to each new incident; None attaches none (the timeline stays as it was).
        self.playbooks = playbooks

    def notify(self, tx: StateTx, incident: Incident, event: Event) -> None:
        """Tell the channels routed `event` about the incident, in the same transaction."""
        self._notify(tx, incident, event)

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
        existing, joined_because = self._incident_to_join(tx, alert, now)
        if existing is not None and existing.incident_id is not None:
            incident_id = existing.incident_id
            tx.add_alert(replace(alert, incident_id=incident_id))
            if existing.state is IncidentState.RESTORING:
                existing = restoring.abort(tx, existing, now, f"{alert.signal} alarmed again")
            self._log(tx, incident_id, actor, "alert", _describe(alert), dict(alert.evidence))
            if joined_because:
                self._log(tx, incident_id, POLICY_ACTOR, "grouped", joined_because)
            if graver(alert.incident_type, existing.type) and _names_harm(alert):
                existing = self._retype(tx, existing, alert)
            return self._grade(
                tx,
                existing,
                _current_level(alert),
                alert.severity,
                signal=alert.signal,
                alert=alert,
            )

        graded = self._grade_of(alert, _current_level(alert), detecting=True)
        if alert.severity is not None:
            severity, why = alert.severity, f"graded {alert.severity} by its source"
        else:
            severity, why = graded.severity, graded.explain()
        incident = tx.add_incident(
            Incident.detected(
                feature=alert.feature,
                type=alert.incident_type,
                severity=severity,
                title=alert.summary
                or f"{_signal_of(alert)} at {_format(alert.signal, _current_level(alert))} "
                f"(baseline {_format(alert.signal, alert.baseline_value)})",
                at=now,
            ),
            now=now,
        )
        incident = replace(
            incident,
            fingerprint=fingerprint(
                alert.feature, alert.incident_type, alert.signal, alert.segment
            ),
            nist=graded.nist,
        )
        new_id = incident.incident_id
        assert new_id is not None
        tx.add_alert(replace(alert, incident_id=new_id))
        self._log(tx, new_id, actor, "detected", _describe(alert), dict(alert.evidence))
        incident = incident.transition(IncidentState.TRIAGED, now)
        due = response_due(severity, now)
        self._log(
            tx,
            new_id,
            POLICY_ACTOR,
            "triaged",
            f"type {incident.type} (NIST AI RMF: {incident.nist}), severity {severity} "
            f"({severity.label}): {why}; "
            f"response {severity.response_target}, due {due.isoformat()}",
        )
        incident = self._contain(tx, incident)
        tx.save_incident(incident, now=now)
        if self.playbooks is not None:
            window = self.triage.change_window_s
            attach_playbook(tx, incident, now, playbooks=self.playbooks, change_window_s=window)
        self._notify(tx, incident, Event.INCIDENT_OPENED)
        return incident

    def on_level(self, tx: StateTx, level: Level) -> Incident | None:
        """Raise the severity of the alert's incident if the signal got worse."""
        alert = tx.open_alert(level.detector, level.feature, level.signal, level.segment)
        if alert is None or alert.incident_id is None:
            return None
        incident = tx.get_incident(alert.incident_id, for_update=True)
        if not incident.is_open:
            return incident
        return self._grade(tx, incident, level.value, signal=level.signal, alert=alert)

    def on_recovery(self, tx: StateTx, recovery: Recovery) -> Incident | None:
        """Close the alert; resolve its incident once none of its alerts is still firing."""
        alert = tx.open_alert(
            recovery.detector,
            recovery.feature,
            recovery.signal,
            None if recovery.signal is None else recovery.segment,
        )
        if alert is None or alert.alert_id is None or alert.incident_id is None:
            return None
        now = self._clock.now()
        tx.resolve_alert(alert.alert_id, recovery.at)
        incident = tx.get_incident(alert.incident_id, for_update=True)
        evidence = recovery.evidence
        current = evidence.get("current_value", evidence.get("current"))
        message = recovery.summary or (
            f"{_signal_of(alert)} back to baseline: "
            f"{_format(alert.signal, float(current or 0.0))} over the last "
            f"{int(evidence.get('recovery_seconds', 0)) // 60} min "
            f"({int(evidence.get('n', 0))} observations)"
        )
        actor = f"detector:{recovery.detector}"
        self._log(tx, alert.incident_id, actor, "recovered", message, dict(evidence))
        if not incident.is_open or tx.alerts(incident_id=alert.incident_id, open_only=True):
            return incident
        if restoring.under_way(tx.get_guard(incident.feature), incident):
            return incident  # the canary judge decides
        if restoring.begin(tx, incident, self.containment, now):
            return tx.get_incident(alert.incident_id)
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
                        routing=guard.routing,  # a pinned rollback is lifted by a person
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
        self._notify(tx, incident, Event.INCIDENT_RESOLVED)
        return incident

    def _retype(self, tx: StateTx, incident: Incident, alert: Alert) -> Incident:
        """Give the incident the graver type of a joining alert, and contain accordingly."""
        assert incident.incident_id is not None
        now = self._clock.now()
        nist = nist_category(alert.incident_type, alert.signal, alert.segment, self.triage)
        retyped = replace(incident, type=alert.incident_type, nist=nist)
        self._log(
            tx,
            incident.incident_id,
            POLICY_ACTOR,
            "retyped",
            f"type {incident.type} → {retyped.type} (NIST AI RMF: {nist}): "
            f"a {retyped.type} alert joined ({_signal_of(alert)})",
            {"from": incident.type.value, "to": retyped.type.value},
        )
        retyped = self._contain(tx, retyped)
        tx.save_incident(retyped, now=now)
        return retyped

    def _grade(
        self,
        tx: StateTx,
        incident: Incident,
        value: float,
        given: Severity | None = None,
        *,
        signal: str,
        alert: Alert | None = None,
    ) -> Incident:
        """Raise the incident's severity when the evidence (`value` of the alerting signal,
        or a source's own grade) calls for worse, and contain accordingly. Severity never
        drops by itself: a person lowers it.
        """
        if given is not None:
            severity, why = given, f"an alert graded {given} by its source joined"
        elif alert is not None:
            graded = self._grade_of(alert, value)
            severity, why = graded.severity, graded.explain()
        else:
            severity, why = classify(incident.type, value, signal)
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
        self._notify(tx, incident, Event.SEVERITY_CHANGED)
        return incident

    def _grade_of(self, alert: Alert, value: float, *, detecting: bool = False) -> Grade:
        """The policy's grade of an alert's signal standing at `value` (amplification counts
        only after detection: the signal worse than when the alert fired)."""
        onset = alert.evidence.get("onset")
        delay = 0.0
        if isinstance(onset, str):
            delay = max(0.0, (alert.fired_at - datetime.fromisoformat(onset)).total_seconds() / 60)
        share = alert.evidence.get("segment_share", 1.0)
        then = impact(alert.signal, alert.current_value, alert.baseline_value)
        now = impact(alert.signal, value, alert.baseline_value)
        facts = Facts(
            feature=alert.feature,
            incident_type=alert.incident_type,
            signal=alert.signal,
            current=value,
            baseline=alert.baseline_value,
            segment=alert.segment,
            segment_share=float(share) if isinstance(share, int | float) else 1.0,
            worsening=not detecting and now > then * (1 + self.triage.amplification_growth),
            detection_delay_min=delay,
        )
        return grade(facts, self.triage)

    def _incident_to_join(
        self, tx: StateTx, alert: Alert, now: datetime
    ) -> tuple[Incident | None, str]:
        """The open incident an alert belongs to, and why when not its own feature's: a
        feature it depends on or that depends on it (a cascade), or one whose suspected
        change (a deploy to every feature) came shortly before both."""
        own = tx.open_incident_for(alert.feature)
        if own is not None:
            return own, ""
        policy = self.triage
        since = now - timedelta(seconds=policy.group_window_s)
        related = set(policy.profile(alert.feature).depends_on) | {
            feature
            for feature, profile in policy.features.items()
            if alert.feature in profile.depends_on
        }
        for feature in sorted(related):
            found = tx.open_incident_for(feature)
            if found is not None and found.detected_at >= since:
                return found, f"{alert.feature} and {feature} depend on each other: one cascade"
        window = now - timedelta(seconds=policy.change_window_s)
        shared = [c for c in tx.list_changes(since=window, until=now) if c.feature is None]
        if shared:
            change = shared[0]
            for incident in tx.list_incidents(open_only=True, limit=50):
                if incident.detected_at >= change.time:
                    return incident, (
                        f"suspected change shared with incident {incident.incident_id}: "
                        f"{change.kind} {change.version} at {change.time.isoformat()}"
                    )
        return None, ""

    def _contain(self, tx: StateTx, incident: Incident) -> Incident:
        """Apply the containment policy (see `respond/containing.py`)."""
        return contain(tx, incident, self.triage, self.containment, self._clock.now())

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
    evidence = alert.evidence
    latest = evidence.get("latest_value", evidence.get("latest"))
    if alert.signal != "error_rate" or not isinstance(latest, int | float):
        return alert.current_value
    if int(evidence.get("latest_n", 0)) < _MIN_LATEST_CALLS:
        return alert.current_value
    return max(alert.current_value, float(latest))


def _signal_of(alert: Alert) -> str:
    where = "".join(f" ({k} {v})" for k, v in sorted(alert.segment.items()))
    return f"{alert.signal.replace('_', ' ')} of {alert.feature}{where}"


#: Kinds of signal that say calls changed (a distribution drifted), not that any was harmed.
_DRIFTS = frozenset({SignalKind.NUMERIC, SignalKind.CATEGORICAL, SignalKind.TEXT})


def _names_harm(alert: Alert) -> bool:
    """Whether the alert's signal says calls were harmed (a drift test does not: an agent
    loop's longer answers drift in length, and stay a cost incident)."""
    found = signal_named(alert.signal)
    return found is None or found.kind not in _DRIFTS


def _format(signal: str, value: float) -> str:
    """A value of a signal as people read it: rates as percentages."""
    found = signal_named(signal)
    if found is not None and found.kind is SignalKind.RATE:
        return f"{value:.1%}" if value >= 0.001 else f"{value:.2%}"
    return f"{value:,.4g}"


def _describe(alert: Alert) -> str:
    if alert.summary is not None:
        return alert.summary
    evidence = alert.evidence
    seconds = (alert.window_end - alert.window_start).total_seconds()
    statistic, threshold = evidence.get("statistic"), evidence.get("threshold")
    test = f"{evidence.get('test', alert.detector)}"
    if isinstance(statistic, int | float) and isinstance(threshold, int | float):
        test += f": {statistic:.3g} against {threshold:.3g}"
    return (
        f"{_signal_of(alert)} {_format(alert.signal, alert.current_value)} over the last "
        f"{int(seconds) // 60} min against a baseline of "
        f"{_format(alert.signal, alert.baseline_value)} ({test}; p <= {alert.p_value:.2g})"
    )
