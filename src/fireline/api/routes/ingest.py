"""Telemetry in: batches of calls."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from fireline.api.deps import FirelineDep, require
from fireline.api.schemas import ErrorOut, IngestOut
from fireline.domain.access import Permission
from fireline.errors import InvalidInput, PayloadTooLarge, Problem
from fireline.ingest.service import IngestResult

#: Largest request body accepted on ingest routes.
MAX_BODY_BYTES = 10 * 1024 * 1024

router = APIRouter(tags=["ingest"])


@router.post(
    "/v1/calls",
    dependencies=[require(Permission.INGEST, remembered=True)],
    response_model=IngestOut,
    responses={413: {"model": ErrorOut}, 422: {"model": ErrorOut}},
)
async def ingest_calls(request: Request, instance: FirelineDep) -> IngestOut:
    """Store a batch of calls: `{"calls": [...]}`. All or nothing; resending is harmless."""
    return await _ingest(request, "calls", instance.ingest.ingest_rows)


@router.post(
    "/v1/feedback",
    dependencies=[require(Permission.INGEST, remembered=True)],
    response_model=IngestOut,
    responses={413: {"model": ErrorOut}, 422: {"model": ErrorOut}},
)
async def ingest_feedback(request: Request, instance: FirelineDep) -> IngestOut:
    """Store a batch of user feedback on calls: `{"feedback": [...]}`. All or nothing."""
    return await _ingest(request, "feedback", instance.ingest.ingest_feedback_rows)


@router.post(
    "/v1/changes",
    dependencies=[require(Permission.INGEST, remembered=True)],
    response_model=IngestOut,
    responses={413: {"model": ErrorOut}, 422: {"model": ErrorOut}},
)
async def ingest_changes(request: Request, instance: FirelineDep) -> IngestOut:
    """Record deploys and upstream changes: `{"changes": [...]}`. All or nothing."""
    return await _ingest(request, "changes", instance.ingest.ingest_change_rows)


async def _ingest(request: Request, key: str, store: Callable[..., IngestResult]) -> IngestOut:
    """Read `{key: [...]}` from the body and store it, all or nothing, off the event loop."""
    rows = await _batch(request, key)
    result = await run_in_threadpool(store, rows, source=key)
    return IngestOut(accepted=result.accepted, duplicates=result.duplicates, late=result.late)


async def _batch(request: Request, key: str) -> list[tuple[int, Any]]:
    payload = await read_json(request)
    rows = payload.get(key) if isinstance(payload, dict) else None
    if not isinstance(rows, list):
        message = f"body must be a JSON object with a '{key}' array"
        raise InvalidInput([Problem(None, key, message)])
    return list(enumerate(rows, start=1))


async def read_json(request: Request, limit: int = MAX_BODY_BYTES) -> Any:
    """The request body parsed as JSON, refusing bodies over `limit` bytes as they stream in."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise _too_large(limit)
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidInput([Problem(None, None, f"body is not valid JSON ({error})")]) from None
    except (RecursionError, ValueError) as error:  # absurd nesting, or a number too long
        raise InvalidInput([Problem(None, None, f"body is not usable JSON ({error})")]) from None


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        [Problem(None, None, f"request body larger than {limit} bytes; split the batch")]
    )
