"""Content scanning: documents in, hits out (which calls, which scanner, what kind)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request

from fireline.api.deps import FirelineDep, require
from fireline.api.routes.ingest import _ingest
from fireline.api.schemas import ErrorOut, HitOut, IngestOut, ScanCountOut, StoredHitOut
from fireline.domain.access import Permission
from fireline.errors import NotFound

router = APIRouter(tags=["scans"])
_Filter = Annotated[str | None, Query(max_length=200)]


@router.post(
    "/v1/documents",
    dependencies=[require(Permission.INGEST, remembered=True)],
    response_model=IngestOut,
    responses={413: {"model": ErrorOut}, 422: {"model": ErrorOut}},
)
async def ingest_documents(request: Request, instance: FirelineDep) -> IngestOut:
    """Register knowledge-base documents (owner tenant, source, publication time):
    `{"documents": [...]}`. All or nothing; a document sent again replaces the older one."""
    return await _ingest(request, "documents", instance.scans.ingest_document_rows)


@router.get(
    "/api/scans/hits",
    response_model=list[StoredHitOut],
    dependencies=[require(Permission.READ_INCIDENTS)],
)
def list_hits(
    instance: FirelineDep,
    feature: _Filter = None,
    scanner: _Filter = None,
    kind: _Filter = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[StoredHitOut]:
    """Hits newest first (by the call's event time), filtered: the affected calls."""
    found = instance.scans.store.list_hits(
        feature=feature,
        scanner=scanner,
        kind=kind,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    return [StoredHitOut.of_stored(item) for item in found]


@router.get(
    "/api/scans/counts",
    response_model=list[ScanCountOut],
    dependencies=[require(Permission.READ_INCIDENTS)],
)
def hit_counts(
    instance: FirelineDep, since: datetime | None = None, until: datetime | None = None
) -> list[ScanCountOut]:
    """Calls with hits per feature, scanner and kind, in [since, until) of event time."""
    counts = instance.scans.store.counts(since=since, until=until)
    return [
        ScanCountOut(feature=feature, scanner=scanner, kind=kind, calls=calls)
        for (feature, scanner, kind), calls in counts.items()
    ]


@router.get(
    "/api/calls/{call_id}/hits",
    response_model=list[HitOut],
    dependencies=[require(Permission.READ_INCIDENTS)],
)
def hits_of_call(call_id: str, instance: FirelineDep) -> list[HitOut]:
    """What the scanners found in one call (empty if it was scanned and is clean)."""
    store = instance.scans.store
    if not store.is_scanned(call_id, instance.config.scanners.rate):
        if instance.telemetry.get_call(call_id) is None:
            raise NotFound(f"no call {call_id!r}")
        raise NotFound(f"call {call_id!r} is not scanned (yet, or not in the sample)")
    return [HitOut.of(hit) for hit in store.hits_of(call_id)]
