"""Incidents: list, show, resolve."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from fireline.api.deps import FirelineDep, require
from fireline.api.schemas import AlertOut, IncidentDetailOut, IncidentOut, ResolveIn, TimelineOut
from fireline.domain.access import Permission

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
    return IncidentDetailOut(
        **IncidentOut.of(incident).model_dump(),
        alerts=[AlertOut.of(a) for a in alerts],
        timeline=[TimelineOut.of(e) for e in entries],
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
