"""The playbook engine: attaches the best-matching playbook to a new incident, runs its
automatic steps, and keeps its checklist on the timeline (one `playbook_step` per step done).

Everything is a timeline entry, so the checklist survives restarts and is audited like the
rest: `playbook_attached` (id, title), then `playbook_step` by the engine for automatic
steps and by a person for the others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import jinja2

from fireline.domain.incident import Incident, TimelineEntry
from fireline.errors import FirelineError, IllegalTransition, InvalidInput, NotFound, Problem
from fireline.playbooks import messages
from fireline.playbooks.actions import Context, run_step
from fireline.playbooks.library import Library, library
from fireline.playbooks.model import Playbook, Step
from fireline.store.state import StateTx

ATTACHED = "playbook_attached"
STEP_DONE = "playbook_step"
STEP_FAILED = "playbook_step_failed"
ENGINE_ACTOR = "policy:playbooks"


@dataclass(frozen=True, slots=True)
class StepState:
    """One step of an attached playbook: done or not, by whom and when."""

    step: Step
    done_by: str | None = None
    done_at: datetime | None = None
    automatic: bool = False

    @property
    def done(self) -> bool:
        return self.done_at is not None


@dataclass(frozen=True, slots=True)
class Attached:
    """The playbook attached to an incident, and its checklist as it stands."""

    incident: Incident
    playbook: Playbook
    attached_at: datetime
    steps: tuple[StepState, ...]

    @property
    def done(self) -> int:
        return sum(1 for s in self.steps if s.done)

    def messages(self) -> dict[str, str]:
        """The playbook's templates rendered with the incident as it stands."""
        values = messages.context(
            self.incident,
            {"id": self.playbook.id, "title": self.playbook.title},
            (self.done, len(self.steps)),
        )
        rendered = {}
        for name, text in self.playbook.templates.items():
            try:
                rendered[name] = messages.render(text, values)
            except jinja2.TemplateError as error:  # checked at load; say so rather than fail
                rendered[name] = f"(template {name} cannot be rendered: {error})\n"
        return rendered


def attach(
    tx: StateTx,
    incident: Incident,
    now: datetime,
    *,
    playbooks: Library | None = None,
    change_window_s: float = 3600.0,
    chosen: Playbook | None = None,
    actor: str = ENGINE_ACTOR,
) -> Playbook | None:
    """Attach the best-matching playbook (or `chosen`) to an incident and run its automatic
    steps; None when one is attached already or none matches."""
    assert incident.incident_id is not None
    if _attached_id(tx.timeline(incident.incident_id)) is not None:
        return None  # once per incident: a later change of type does not re-attach
    alerts = [(a.signal, a.segment) for a in tx.alerts(incident_id=incident.incident_id)]
    playbook = chosen or (playbooks or library()).match(incident.type, alerts)
    if playbook is None:
        return None
    automatic = [s for s in playbook.steps if s.automatic is not None]
    _log(
        tx,
        incident.incident_id,
        now,
        actor,
        ATTACHED,
        f"playbook {playbook.id} ({playbook.title}) attached: {len(automatic)} automatic "
        f"steps run, {len(playbook.steps) - len(automatic)} to check",
        {"playbook": playbook.id, "title": playbook.title},
    )
    ctx = Context(tx, incident, playbook, now, change_window_s)
    for step in automatic:
        data = {"playbook": playbook.id, "step": step.id, "automatic": True}
        try:
            outcome = run_step(ctx, step)
        except (FirelineError, jinja2.TemplateError, ValueError) as error:
            # A playbook's step must never stop the response to the incident itself.
            message = f"{step.title}: not done ({error})"
            _log(tx, incident.incident_id, now, ctx.actor, STEP_FAILED, message, data)
            continue
        message = f"{step.title}: {outcome.message}"
        _log(tx, incident.incident_id, now, ctx.actor, STEP_DONE, message, {**outcome.data, **data})
    return playbook


def attach_by_hand(
    tx: StateTx,
    incident_id: int,
    *,
    actor: str,
    now: datetime,
    playbooks: Library,
    playbook_id: str | None = None,
    change_window_s: float = 3600.0,
) -> Attached:
    """A person attaches a playbook (the best match, or the one named) to an open incident."""
    incident = tx.get_incident(incident_id, for_update=True)
    found = _attached_id(tx.timeline(incident_id))
    if found is not None:
        raise IllegalTransition(f"incident {incident_id} follows playbook {found[0]} already")
    if not incident.is_open:
        raise IllegalTransition(f"incident {incident_id} is {incident.state}")
    chosen = playbooks.get(playbook_id) if playbook_id is not None else None
    done = attach(
        tx,
        incident,
        now,
        playbooks=playbooks,
        change_window_s=change_window_s,
        chosen=chosen,
        actor=actor,
    )
    if done is None:
        raise NotFound(f"no playbook matches incident {incident_id} ({incident.type})")
    return attached(tx, incident_id, playbooks)


def attached(tx: StateTx, incident_id: int, playbooks: Library | None = None) -> Attached:
    """The incident's playbook and checklist; NotFound if none is attached."""
    incident = tx.get_incident(incident_id)
    entries = tx.timeline(incident_id)
    found = _attached_id(entries)
    if found is None:
        raise NotFound(f"incident {incident_id} has no playbook attached")
    playbook_id, attached_at = found
    playbook = (playbooks or library()).get(playbook_id)
    done: dict[str, TimelineEntry] = {}
    for entry in entries:
        if entry.kind == STEP_DONE and entry.data.get("playbook") == playbook_id:
            done.setdefault(str(entry.data.get("step")), entry)
    steps = []
    for step in playbook.steps:
        found_entry = done.get(step.id)
        steps.append(
            StepState(
                step,
                done_by=found_entry.actor if found_entry else None,
                done_at=found_entry.at if found_entry else None,
                automatic=bool(found_entry and found_entry.data.get("automatic")),
            )
        )
    return Attached(incident, playbook, attached_at, tuple(steps))


def tick(
    tx: StateTx,
    incident_id: int,
    step_id: str,
    *,
    actor: str,
    now: datetime,
    playbooks: Library | None = None,
) -> Attached:
    """Mark a step of the incident's playbook done by `actor` (once: a done step stays so)."""
    current = attached(tx, incident_id, playbooks)
    state = next((s for s in current.steps if s.step.id == step_id), None)
    if state is None:
        known = ", ".join(s.step.id for s in current.steps)
        message = f"playbook {current.playbook.id} has no step '{step_id}' (steps: {known})"
        raise InvalidInput([Problem(None, "step", message)])
    if state.done:
        return current
    _log(
        tx,
        incident_id,
        now,
        actor,
        STEP_DONE,
        f"done: {state.step.title}",
        {"playbook": current.playbook.id, "step": step_id, "automatic": False},
    )
    return attached(tx, incident_id, playbooks)


def _attached_id(entries: Sequence[TimelineEntry]) -> tuple[str, datetime] | None:
    for entry in entries:
        if entry.kind == ATTACHED:
            return str(entry.data.get("playbook")), entry.at
    return None


def by_playbook(actor: str) -> bool:
    """Whether a timeline entry's `actor` is the playbook engine or one of its playbooks."""
    return actor == ENGINE_ACTOR or actor.startswith("playbook:")


def _log(
    tx: StateTx,
    incident_id: int,
    now: datetime,
    actor: str,
    kind: str,
    message: str,
    data: Mapping[str, object],
) -> None:
    tx.append_timeline(TimelineEntry(incident_id, now, actor, kind, message, dict(data)))


__all__ = [
    "ATTACHED",
    "ENGINE_ACTOR",
    "STEP_DONE",
    "STEP_FAILED",
    "Attached",
    "StepState",
    "attach",
    "attach_by_hand",
    "attached",
    "by_playbook",
    "tick",
]
