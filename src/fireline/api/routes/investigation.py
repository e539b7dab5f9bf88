"""Routes of issue 8 (investigation): an incident's onset, suspects, segments in common and
blast radius, and its affected calls as CSV or JSON Lines."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import StreamingResponse

from fireline.api.deps import FirelineDep, require
from fireline.api.schemas import ErrorOut
from fireline.domain.access import Permission
from fireline.investigate import Format, investigator_for, lines
from fireline.investigate.export import MEDIA_TYPES

router = APIRouter(tags=["investigation"])

IncidentId = Annotated[int, Path(ge=1, le=2**31 - 1)]
_Errors: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut}}


@router.get(
    "/api/incidents/{incident_id}/investigation",
    dependencies=[require(Permission.READ_INCIDENTS)],
    responses=_Errors,
)
def get_investigation(incident_id: IncidentId, instance: FirelineDep) -> dict[str, Any]:
    """Onset, detection delay, suspect changes, segments in common and blast radius; computed
    on each read, so live while the incident is open."""
    with instance.state.unit_of_work(read_only=True) as tx:
        found = investigator_for(instance).investigate(tx, incident_id, instance.clock.now())
    encoded: dict[str, Any] = jsonable_encoder(found.to_dict())
    return encoded


@router.get(
    "/api/incidents/{incident_id}/affected",
    response_class=StreamingResponse,
    dependencies=[require(Permission.READ_INCIDENTS)],
    responses=_Errors,
)
def get_affected(
    incident_id: IncidentId,
    instance: FirelineDep,
    format: Annotated[Format, Query(description="csv or jsonl")] = "csv",
    limit: Annotated[int | None, Query(ge=1, le=100_000_000)] = None,
) -> StreamingResponse:
    """The affected calls in time order (at most `limit`), streamed as CSV or JSON Lines."""
    with instance.state.unit_of_work(read_only=True) as tx:
        rows = investigator_for(instance).affected(tx, incident_id, instance.clock.now(), limit)
    name = f"incident-{incident_id}-affected.{format}"
    return StreamingResponse(
        lines(rows, format),
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
