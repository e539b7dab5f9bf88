"""What people do to an incident: assign roles, set severity, note, tick the checklist, move
it through its lifecycle. Each action is one timeline entry saying who, what and why."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from fireline.contain.controls import Controls, describe_controls, guard_controls
from fireline.domain.guard import ContainmentLevel, Guard, describe_fallback
from fireline.domain.incident import Incident, IncidentState, TimelineEntry, can_transition
from fireline.domain.roles import ResponseRole, RoleAssignment
from fireline.domain.severity import Severity, response_due
from fireline.domain.triage_clock import FIRST_HOUR, StepStatus, checklist
from fireline.errors import IllegalTransition, InvalidInput, Problem
from fireline.notify.message import Event
from fireline.respond.service import IncidentService
from fireline.store.state import StateTx


class IncidentActions:
    """People's actions on incidents, through the incident service (for its notifications)."""

    def __init__(self, service: IncidentService) -> None:
        self.service = service

    def _now(self) -> datetime:
        return self.service.clock.now()

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
            TimelineEntry(incident_id, self._now(), actor, kind, message, data or {})
        )

    def assign(
        self, tx: StateTx, incident_id: int, role: ResponseRole, person: str, *, actor: str
    ) -> RoleAssignment:
        """Give `role` to `person`; the current holder, if any, hands over."""
        tx.get_incident(incident_id, for_update=True)  # exists, and no one else decides now
        assignment = RoleAssignment(incident_id, role, person, self._now(), actor)
        previous = tx.assign_role(assignment)
        if previous is not None and previous.person == person:
            return assignment
        what = (
            f"{role.value.replace('_', ' ')} handed over from {previous.person} to {person}"
            if previous is not None
            else f"{person} is {role.value.replace('_', ' ')}"
        )
        self._log(tx, incident_id, actor, "role_assigned", what)
        return assignment

    def set_severity(
        self, tx: StateTx, incident_id: int, severity: Severity, *, actor: str, reason: str
    ) -> Incident:
        """Set the severity by a person's judgement, up or down, with the reason."""
        incident = tx.get_incident(incident_id, for_update=True)
        if not incident.is_open:
            raise IllegalTransition(f"incident {incident_id} is {incident.state}")
        if severity is incident.severity:
            return incident
        now = self._now()
        changed = replace(incident, severity=severity)
        tx.save_incident(changed, now=now)
        self._log(
            tx,
            incident_id,
            actor,
            "severity_set",
            f"severity set from {incident.severity} to {severity} ({severity.label}): {reason}; "
            f"response {severity.response_target}, due {response_due(severity, now).isoformat()}",
        )
        self.service.notify(tx, changed, Event.SEVERITY_CHANGED)
        return changed

    def note(self, tx: StateTx, incident_id: int, message: str, *, actor: str) -> None:
        tx.get_incident(incident_id)
        self._log(tx, incident_id, actor, "note", message)

    def move(
        self, tx: StateTx, incident_id: int, state: IncidentState, *, actor: str, reason: str
    ) -> Incident:
        """Move the incident to `state` if the lifecycle allows it (IllegalTransition if not)."""
        if state in (IncidentState.RESOLVED, IncidentState.DETECTED):
            raise IllegalTransition(
                f"use resolve to resolve an incident; {state} cannot be entered by hand"
            )
        if state is IncidentState.REVIEWED:
            raise IllegalTransition(
                "an incident is reviewed when the commander accepts its post-incident review "
                "(POST /api/incidents/ID/review/accept, fireline review-accept ID)"
            )
        incident = tx.get_incident(incident_id, for_update=True)
        moved = incident.transition(state, self._now())
        tx.save_incident(moved, now=self._now())
        self._log(tx, incident_id, actor, "state", f"{incident.state} → {state}: {reason}")
        return moved

    def set_guard(
        self,
        tx: StateTx,
        feature: str,
        level: ContainmentLevel,
        *,
        actor: str,
        reason: str,
        probe_share: float | None = None,
        controls: Controls | None = None,
    ) -> Guard:
        """Set a feature's containment level by a person's decision (a proposal approved, a
        kill switch, a full shutdown), with the reason, on its open incident's timeline.

        `controls` narrow the guard to a segment, throttle it, or filter inputs and outputs;
        lifting a guard (level 0) without controls clears them too."""
        now = self._now()
        current = tx.get_guard(feature)
        incident = tx.open_incident_for(feature)
        share = probe_share if probe_share is not None else current.probe_share
        if controls is None and level == ContainmentLevel.NONE:
            controls = Controls()
        guard = replace(
            current,
            level=level,
            reason=reason,
            probe_share=share if level >= ContainmentLevel.FEATURE_DISABLED else 0.0,
            set_by=actor,
            updated_at=now,
            incident_id=incident.incident_id if incident is not None else current.incident_id,
            # A person's level ends any staged restoration under way.
            restoration=None,
        )
        if controls is not None:
            guard = controls.apply(guard)
        tx.put_guard(guard)
        if incident is not None and incident.incident_id is not None:
            route = self.service.containment.fallback_for(feature)
            routed = ""
            if level == ContainmentLevel.FALLBACK:
                routed = f" ({describe_fallback(route)})"
            self._log(
                tx,
                incident.incident_id,
                actor,
                "guard_set",
                f"guard of {feature} set to level {int(level)} ({level.description})"
                f"{routed}{describe_controls(guard)}: {reason}",
                {"level": int(level), **guard_controls(guard), "fallback": route},
            )
            if level > ContainmentLevel.NONE and can_transition(
                incident.state, IncidentState.CONTAINED
            ):
                tx.save_incident(incident.transition(IncidentState.CONTAINED, now), now=now)
        return guard

    def checklist(self, tx: StateTx, incident_id: int) -> list[StepStatus]:
        """The first-hour checklist of an incident as it stands now."""
        incident = tx.get_incident(incident_id)
        events = [
            (e.kind, e.at, str(e.data.get("step", "")) if e.kind == "checklist" else "")
            for e in tx.timeline(incident_id)
        ]
        return checklist(incident.detected_at, events, self._now())

    def tick_step(self, tx: StateTx, incident_id: int, step: str, *, actor: str) -> None:
        """Mark a checklist step done by hand."""
        known = {s.name: s for s in FIRST_HOUR}
        if step not in known:
            message = f"unknown step {step!r}: use one of {', '.join(known)}"
            raise InvalidInput([Problem(None, "step", message)])
        tx.get_incident(incident_id)
        tx.append_timeline(
            TimelineEntry(
                incident_id,
                self._now(),
                actor,
                "checklist",
                f"done: {known[step].title}",
                {"step": step},
            )
        )
