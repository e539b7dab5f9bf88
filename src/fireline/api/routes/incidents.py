"""Incidents: list, show, resolve; roles, severity, notes, lifecycle, the triage clock."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, StringConstraints

from fireline.api.deps import FirelineDep, require
from fireline.api.schemas import (
    AlertOut,
    ChecklistStepOut,
    IncidentDetailOut,
    IncidentOut,
    ResolveIn,
    TimelineOut,
)
from fireline.domain.access import Permission
from fireline.domain.incident import IncidentState
from fireline.domain.roles import ResponseRole
from fireline.domain.severity import Severity

router = APIRouter(prefix="/api/incidents", tags=["incidents"])

IncidentId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("", response_model=list[IncidentOut], dependencies=[require(Permission.READ_INCIDENTS)])
def list_incidents(
    instance: FirelineDep,
    state: Literal["open", "all"] = "all",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> list[IncidentOut]:
    """Incidents, newest first, a page at a time."""
    found = instance.list_incidents(open_only=state == "open", limit=limit, offset=offset)
    return [IncidentOut.of(i) for i in found]


@router.get(
    "/{incident_id}",
    response_model=IncidentDetailOut,
    dependencies=[require(Permission.READ_INCIDENTS)],
)
def get_incident(incident_id: IncidentId, instance: FirelineDep) -> IncidentDetailOut:
    """One incident with its alerts and timeline."""
    with instance.state.unit_of_work() as tx:
        incident = tx.get_incident(incident_id)
        alerts = tx.alerts(incident_id=incident_id)
        entries = tx.timeline(incident_id)
        steps = instance.actions.checklist(tx, incident_id)
        roles = tx.roles(incident_id)
    return IncidentDetailOut(
        **IncidentOut.of(incident).model_dump(),
        alerts=[AlertOut.of(a) for a in alerts],
        timeline=[TimelineOut.of(e) for e in entries],
        checklist=[
            ChecklistStepOut(
                step=s.step.name,
                title=s.step.title,
                due_at=s.due_at,
                done_at=s.done_at,
                overdue=s.overdue and incident.is_open,
            )
            for s in steps
        ],
        roles={a.role.value: a.person for a in roles},
    )


@router.post("/{incident_id}/resolve", response_model=IncidentOut)
def resolve_incident(
    incident_id: IncidentId,
    body: ResolveIn,
    instance: FirelineDep,
    caller: Annotated[str, require(Permission.RESPOND)],
) -> IncidentOut:
    """Resolve an incident and lift the guards it set; the token's name goes on the timeline."""
    return IncidentOut.of(instance.resolve(incident_id, actor=caller, reason=body.reason))


class RoleIn(BaseModel):
    """Give a response role to a person (the current holder hands over)."""

    model_config = ConfigDict(extra="forbid")

    role: ResponseRole
    person: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class RoleOut(BaseModel):
    role: str
    person: str
    assigned_at: datetime
    assigned_by: str
    ended_at: datetime | None


class SeverityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    severity: Severity
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2_000)]


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: Annotated[str, StringConstraints(min_length=1, max_length=10_000)]


class StateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: IncidentState
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2_000)]


class StepOut(BaseModel):
    step: str
    title: str
    starts_min: int
    ends_min: int
    due_at: datetime
    done_at: datetime | None
    overdue: bool


@router.get(
    "/{incident_id}/roles",
    response_model=list[RoleOut],
    dependencies=[require(Permission.READ_INCIDENTS)],
)
def list_roles(
    incident_id: IncidentId, instance: FirelineDep, history: bool = False
) -> list[RoleOut]:
    """Who holds each role now (with `history`: every holder, handovers included)."""
    with instance.state.unit_of_work(read_only=True) as tx:
        tx.get_incident(incident_id)
        found = tx.roles(incident_id, current_only=not history)
    return [
        RoleOut(
            role=a.role.value,
            person=a.person,
            assigned_at=a.assigned_at,
            assigned_by=a.assigned_by,
            ended_at=a.ended_at,
        )
        for a in found
    ]


@router.post("/{incident_id}/roles", response_model=RoleOut)
def assign_role(
    incident_id: IncidentId,
    body: RoleIn,
    instance: FirelineDep,
    caller: Annotated[str, require(Permission.COMMAND)],
) -> RoleOut:
    """Assign a role (commander permission); a holder it replaces hands over."""
    with instance.acting() as tx:
        found = instance.actions.assign(tx, incident_id, body.role, body.person, actor=caller)
    return RoleOut(
        role=found.role.value,
        person=found.person,
        assigned_at=found.assigned_at,
        assigned_by=found.assigned_by,
        ended_at=None,
    )


@router.post("/{incident_id}/severity", response_model=IncidentOut)
def set_severity(
    incident_id: IncidentId,
    body: SeverityIn,
    instance: FirelineDep,
    caller: Annotated[str, require(Permission.COMMAND)],
) -> IncidentOut:
    """Set the severity by judgement, up or down, with the reason (commander permission)."""
    with instance.acting() as tx:
        found = instance.actions.set_severity(
            tx, incident_id, body.severity, actor=caller, reason=body.reason
        )
    return IncidentOut.of(found)


@router.post("/{incident_id}/notes", status_code=204)
def add_note(
    incident_id: IncidentId,
    body: NoteIn,
    instance: FirelineDep,
    caller: Annotated[str, require(Permission.RESPOND)],
) -> None:
    """Add a note to the timeline."""
    with instance.acting() as tx:
        instance.actions.note(tx, incident_id, body.message, actor=caller)


@router.post("/{incident_id}/state", response_model=IncidentOut)
def move_incident(
    incident_id: IncidentId,
    body: StateIn,
    instance: FirelineDep,
    caller: Annotated[str, require(Permission.RESPOND)],
) -> IncidentOut:
    """Move the incident along its lifecycle (only legal transitions; 409 otherwise)."""
    with instance.acting() as tx:
        found = instance.actions.move(tx, incident_id, body.state, actor=caller, reason=body.reason)
    return IncidentOut.of(found)


@router.get(
    "/{incident_id}/checklist",
    response_model=list[StepOut],
    dependencies=[require(Permission.READ_INCIDENTS)],
)
def get_checklist(incident_id: IncidentId, instance: FirelineDep) -> list[StepOut]:
    """The first-hour triage clock: each step's time box, whether done, whether overdue."""
    with instance.state.unit_of_work(read_only=True) as tx:
        steps = instance.actions.checklist(tx, incident_id)
    return [
        StepOut(
            step=s.step.name,
            title=s.step.title,
            starts_min=s.step.start_min,
            ends_min=s.step.end_min,
            due_at=s.due_at,
            done_at=s.done_at,
            overdue=s.overdue,
        )
        for s in steps
    ]


@router.post("/{incident_id}/checklist/{step}", status_code=204)
def tick_step(
    incident_id: IncidentId,
    step: Annotated[str, Path(max_length=32)],
    instance: FirelineDep,
    caller: Annotated[str, require(Permission.RESPOND)],
) -> None:
    """Mark a checklist step done."""
    with instance.acting() as tx:
        instance.actions.tick_step(tx, incident_id, step, actor=caller)
