"""Routes of issue 8 (regression evals): an incident's eval cases, as JSON or JSON Lines."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import Response

from fireline.api.deps import FirelineDep, require
from fireline.api.schemas import ErrorOut
from fireline.domain.access import Permission
from fireline.evals import MEDIA_TYPE, dumps, extract_for
from fireline.evals.diversity import MAX_CASES, MIN_CASES

router = APIRouter(tags=["evals"])

IncidentId = Annotated[int, Path(ge=1, le=2**31 - 1)]
_Errors: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut}}


@router.get(
    "/api/incidents/{incident_id}/evals",
    dependencies=[require(Permission.READ_INCIDENTS)],
    responses=_Errors,
    response_model=None,
)
def get_evals(
    incident_id: IncidentId,
    instance: FirelineDep,
    format: Annotated[Literal["json", "jsonl"], Query(description="json or jsonl")] = "json",
    max_cases: Annotated[int, Query(alias="max", ge=1, le=MAX_CASES)] = MAX_CASES,
) -> dict[str, Any] | Response:
    """Regression eval cases from the incident's affected calls: diverse inputs (one per
    cluster), with assertions derived from the failure; `format=jsonl` for the case file."""
    found = extract_for(instance, incident_id, low=min(MIN_CASES, max_cases), high=max_cases)
    if format == "jsonl":
        name = f"incident-{incident_id}-evals.jsonl"
        return Response(
            dumps(found.cases),
            media_type=MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    encoded: dict[str, Any] = jsonable_encoder(
        {
            "incident_id": incident_id,
            "signal": found.signal,
            "affected": found.affected,
            "with_input": found.with_input,
            "distinct": found.distinct,
            "embedder": found.embedder,
            "count": len(found.cases),
            "summary": found.summary(),
            "notes": found.notes,
            "cases": [case.model_dump(mode="json") for case in found.cases],
        }
    )
    return encoded
