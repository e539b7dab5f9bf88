"""Telemetry in: batches of calls."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from fireline.api.deps import FirelineDep, require
from fireline.api.schemas import ErrorOut, IngestOut
from fireline.domain.access import Permission
from fireline.errors import InvalidInput, PayloadTooLarge, Problem

#: Largest request body accepted on ingest routes.
MAX_BODY_BYTES = 10 * 1024 * 1024

router = APIRouter(tags=["ingest"])


@router.post(
    "/v1/calls",
    dependencies=[require(Permission.INGEST)],
    response_model=IngestOut,
    responses={413: {"model": ErrorOut}, 422: {"model": ErrorOut}},
)
async def ingest_calls(request: Request, instance: FirelineDep) -> IngestOut:
    """Store a batch of calls: `{"calls": [...]}`. All or nothing; resending is harmless."""
    payload = await read_json(request)
    rows = payload.get("calls") if isinstance(payload, dict) else None
    if not isinstance(rows, list):
        raise InvalidInput(
            [Problem(None, "calls", "body must be a JSON object with a 'calls' array")]
        )
    result = await run_in_threadpool(
        instance.ingest.ingest_rows, enumerate(rows, start=1), source="calls"
    )
    return IngestOut(accepted=result.accepted, duplicates=result.duplicates, late=result.late)


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
