"""Containing an incident: the containment policy's decision carried out on the feature's
guard, on the timeline: the level it may set alone, narrowed to the incident's segment; a
rollback of the suspected change when a known good version exists; a proposal for what needs
the commander."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from fireline.contain.config import Containment
from fireline.contain.policy import Decision, decide
from fireline.contain.policy import Facts as ContainmentFacts
from fireline.detect.catalog import SCAN_RATE
from fireline.domain.guard import ContainmentLevel, Guard, describe_fallback
from fireline.domain.incident import Incident, IncidentState, TimelineEntry, can_transition
from fireline.domain.telemetry import Change, ChangeKind
from fireline.respond.rollback import PINNABLE, registry_for, roll_back
from fireline.store.state import StateTx
from fireline.triage.policy import Triage

POLICY_ACTOR = "policy:default"
#: Signals of scanners that look at inputs: their incidents are confined to an input pattern.
INPUT_PATTERN_SIGNALS = frozenset({SCAN_RATE + "injection"})


def contain(
    tx: StateTx, incident: Incident, triage: Triage, containment: Containment, now: datetime
) -> Incident:
    """Set the level the policy may set alone if it is stronger than the guard in place; a
    stronger level that needs the commander is proposed on the timeline (once per level)."""
    assert incident.incident_id is not None
    suspect = suspect_change(tx, incident, triage)
    target = rollback_target(tx, incident, suspect, containment, now)
    facts = ContainmentFacts(
        incident_type=incident.type,
        severity=incident.severity,
        nist=incident.nist,
        profile=triage.profile(incident.feature),
        explained_by_change=suspect is not None,
        known_good_available=target is not None,
        confined_to_input_pattern=input_pattern_only(tx, incident),
        signal=first_signal(tx, incident),
    )
    decision = decide(facts, containment)
    if decision.strategy == "rollback" and decision.strategy_automatic and suspect and target:
        _roll_back(tx, incident, suspect, target, decision, containment, now)
    if not decision.automatic and decision.level > tx.get_guard(incident.feature).level:
        _propose(tx, incident, decision, now)
    level = decision.automatic_level
    current = tx.get_guard(incident.feature)
    if level is None or (current.level >= level and not current.segment):
        return incident
    if current.level > level:
        return incident  # a stronger guard of someone else's, narrowed or not, stays
    probe_share = decision.probe_share if level >= ContainmentLevel.FEATURE_DISABLED else 0.0
    segment = incident_segment(tx, incident)
    reason = f"{incident.severity} {incident.type} incident: {decision.reason}"
    where = "".join(f", for {k} {v}" for k, v in sorted(segment.items()))
    route = containment.fallback_for(incident.feature)
    if level == ContainmentLevel.FALLBACK:
        where = f" ({describe_fallback(route)}){where}"
    tx.put_guard(
        Guard(
            feature=incident.feature,
            level=level,
            reason=reason,
            incident_id=incident.incident_id,
            probe_share=probe_share,
            set_by=POLICY_ACTOR,
            updated_at=now,
            routing=current.routing,
            segment=segment,
        )
    )
    _log(
        tx,
        incident.incident_id,
        "guard_set",
        f"guard of {incident.feature} set to level {int(level)} ({level.description}){where}: "
        f"{reason}",
        now,
        {
            "level": int(level),
            "probe_share": probe_share,
            "strategy": str(decision.strategy),
            "segment": dict(segment),
            "fallback": route,
        },
    )
    if can_transition(incident.state, IncidentState.CONTAINED):
        incident = incident.transition(IncidentState.CONTAINED, now)
    return incident


def first_signal(tx: StateTx, incident: Incident) -> str | None:
    """The signal of the alert that raised the incident."""
    alerts = tx.alerts(incident_id=incident.incident_id)
    return min(alerts, key=lambda a: a.fired_at).signal if alerts else None


def incident_segment(tx: StateTx, incident: Incident) -> Mapping[str, str]:
    """The segment every alert of the incident is in (least disruption: contain only it), or
    {} when the harm is feature-wide or spans segments."""
    segments = {
        tuple(sorted(a.segment.items())) for a in tx.alerts(incident_id=incident.incident_id)
    }
    if len(segments) != 1:
        return {}
    return dict(segments.pop())


def suspect_change(tx: StateTx, incident: Incident, triage: Triage) -> Change | None:
    """The newest change to the feature (or to every feature) shortly before detection."""
    since = incident.detected_at - timedelta(seconds=triage.change_window_s)
    found = tx.list_changes(feature=incident.feature, since=since, until=incident.detected_at)
    return found[0] if found else None


def rollback_target(
    tx: StateTx,
    incident: Incident,
    suspect: Change | None,
    containment: Containment,
    now: datetime,
) -> str | None:
    """The last known good version of the suspected change's kind, if it can be pinned."""
    if suspect is None or suspect.kind not in PINNABLE:
        return None
    registry = registry_for(
        tx, incident.feature, now, min_healthy_minutes=containment.rollback.min_healthy_minutes
    )
    return registry.rollback_target(incident.feature, ChangeKind(suspect.kind))


def input_pattern_only(tx: StateTx, incident: Incident) -> bool:
    """Whether every alert of the incident comes from an input scanner (the harm shows only
    for inputs of a kind: a filter on inputs can hold it)."""
    signals = {a.signal for a in tx.alerts(incident_id=incident.incident_id)}
    return bool(signals) and signals <= INPUT_PATTERN_SIGNALS


def _roll_back(
    tx: StateTx,
    incident: Incident,
    suspect: Change,
    target: str,
    decision: Decision,
    containment: Containment,
    now: datetime,
) -> None:
    if tx.get_guard(incident.feature).routing.get(suspect.kind) == target:
        return  # pinned already
    roll_back(
        tx,
        incident.feature,
        suspect.kind,
        actor=POLICY_ACTOR,
        reason=f"suspected change {suspect.kind} {suspect.version} at "
        f"{suspect.time.isoformat()} explains the incident: {decision.reason}",
        now=now,
        min_healthy_minutes=containment.rollback.min_healthy_minutes,
    )


def _propose(tx: StateTx, incident: Incident, decision: Decision, now: datetime) -> None:
    assert incident.incident_id is not None
    already = any(
        e.kind == "containment_proposed" and e.data.get("level") == int(decision.level)
        for e in tx.timeline(incident.incident_id)
    )
    if not already:
        _log(
            tx,
            incident.incident_id,
            "containment_proposed",
            f"level {int(decision.level)} ({decision.level.description}) proposed, needs the "
            f"commander: {decision.reason}; strategy {decision.strategy}",
            now,
            {"level": int(decision.level), "strategy": str(decision.strategy)},
        )


def _log(
    tx: StateTx,
    incident_id: int,
    kind: str,
    message: str,
    now: datetime,
    data: dict[str, object],
) -> None:
    tx.append_timeline(TimelineEntry(incident_id, now, POLICY_ACTOR, kind, message, data))
