"""OpenTelemetry in: an OTLP/HTTP traces receiver whose GenAI spans become calls."""

from __future__ import annotations

import base64
import json
import logging
import zlib
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from fireline.api.deps import FirelineDep, require
from fireline.api.routes.ingest import MAX_BODY_BYTES
from fireline.domain.access import Permission
from fireline.ingest.gcpause import collector_paused
from fireline.ingest.otlp import SpanBatch, count_spans, spans_to_calls
from fireline.ingest.schema import MAX_BATCH_ROWS
from fireline.runtime import Fireline

#: Largest body accepted after decompression: a gzip "bomb" is refused at this size.
MAX_DECOMPRESSED_BYTES = 4 * MAX_BODY_BYTES

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_MEDIA_TYPES = {PROTOBUF: PROTOBUF, "application/protobuf": PROTOBUF, JSON: JSON}
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
# google.rpc.Code values for the Status body of refusals.
_INVALID_ARGUMENT, _RESOURCE_EXHAUSTED = 3, 8

log = logging.getLogger("fireline.api.otlp")
router = APIRouter(tags=["ingest"])


class Refused(Exception):
    """A request refused as a whole, answered with `status` and a google.rpc.Status body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


_BINARY_BODY = {"schema": {"type": "string", "format": "binary"}}


@router.post(
    "/v1/traces",
    dependencies=[require(Permission.INGEST, remembered=True)],
    response_class=Response,
    responses={
        200: {
            "description": "ExportTraceServiceResponse, in the request's encoding",
            "content": {PROTOBUF: _BINARY_BODY, JSON: {"schema": {"type": "object"}}},
        },
        400: {"description": "malformed body (google.rpc.Status)"},
        413: {"description": "body too large, compressed or not (google.rpc.Status)"},
        415: {"description": "unsupported Content-Type or Content-Encoding"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {PROTOBUF: _BINARY_BODY, JSON: {"schema": {"type": "object"}}},
        }
    },
)
async def receive_traces(request: Request, instance: FirelineDep) -> Response:
    """OTLP/HTTP trace export: GenAI spans are stored as calls (see docs/otlp.md).

    Invalid spans are rejected one by one and counted in `partial_success`; the others are
    stored. Spans without `gen_ai.*` attributes are dropped unless the deployment keeps them.
    """
    media = _MEDIA_TYPES.get(request.headers.get("content-type", "").split(";")[0].strip().lower())
    if media is None:
        return _refusal(
            Refused(415, f"Content-Type must be {PROTOBUF} or {JSON}"), JSON, _INVALID_ARGUMENT
        )
    try:
        coding = request.headers.get("content-encoding", "identity").strip().lower()
        if coding not in (*_WBITS, "identity", ""):
            raise Refused(415, f"Content-Encoding {coding!r} not supported: use gzip or none")
        body = await _read_body(request, MAX_BODY_BYTES)
        keep = bool(getattr(request.app.state, "otlp_keep_non_genai", False))
        return await run_in_threadpool(_receive, instance, body, media, coding, keep)
    except Refused as refused:
        code = _RESOURCE_EXHAUSTED if refused.status == 413 else _INVALID_ARGUMENT
        return _refusal(refused, media, code)


def _receive(instance: Fireline, body: bytes, media: str, coding: str, keep: bool) -> Response:
    """Decode, map and store one export request (in a worker thread: it is CPU-bound)."""
    if coding in _WBITS:
        body = _decompress(body, coding, MAX_DECOMPRESSED_BYTES)
    export = _decode(body, media)
    spans = count_spans(export)
    if spans > MAX_BATCH_ROWS:
        raise Refused(413, f"request has {spans} spans, more than {MAX_BATCH_ROWS}; split it")
    # A request's calls are many objects, alive until stored (see fireline.ingest.gcpause).
    with collector_paused():
        with instance.ingest.bounded():  # far-future spans are rejected like invalid ones
            batch = spans_to_calls(export, keep_non_genai=keep)
        result = instance.ingest.ingest_columns(batch.columns)
        log.debug(
            "OTLP traces: %d spans, %d calls stored, %d duplicates, %d late, %d dropped, "
            "%d rejected",
            batch.spans,
            result.accepted,
            result.duplicates,
            result.late,
            batch.dropped,
            batch.rejected,
        )
        answer = _answer(batch, media)
        # Freed while paused, the calls are not counted as new when the collector resumes:
        # else its first collection would go through them all.
        del batch
    return answer


def _answer(batch: SpanBatch, media: str) -> Response:
    answer = ExportTraceServiceResponse()
    message = batch.error_message()
    if batch.rejected or message:
        answer.partial_success.rejected_spans = batch.rejected
        answer.partial_success.error_message = message
    if media == JSON:
        return Response(json_format.MessageToJson(answer, indent=None), media_type=JSON)
    return Response(answer.SerializeToString(), media_type=PROTOBUF)


# ---------------------------------------------------------------- decoding


async def _read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing bodies over `limit` bytes as they stream in (as read_json does)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise _too_large(limit)
    return bytes(body)


def _too_large(limit: int, what: str = "request body") -> Refused:
    return Refused(413, f"{what} larger than {limit} bytes; export smaller batches")


def _decompress(body: bytes, coding: str, limit: int) -> bytes:
    """The body inflated, refusing to inflate past `limit` bytes (zip bombs)."""
    out = bytearray()
    data = body
    while data:  # gzip allows several members, one after the other
        inflater = zlib.decompressobj(_WBITS[coding])
        try:
            out += inflater.decompress(data, limit + 1 - len(out))
        except zlib.error as error:
            raise Refused(400, f"body is not valid {coding} data ({error})") from None
        if len(out) > limit:
            raise _too_large(limit, f"{coding} body inflated")
        if not inflater.eof:
            raise Refused(400, f"{coding} body is truncated")
        data = inflater.unused_data
    return bytes(out)


def _decode(body: bytes, media: str) -> ExportTraceServiceRequest:
    export = ExportTraceServiceRequest()
    if media == PROTOBUF:
        try:
            export.ParseFromString(body)
        except (DecodeError, RecursionError, ValueError) as error:
            raise Refused(
                400, f"body is not a valid protobuf ExportTraceServiceRequest ({error})"
            ) from None
        return export
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise Refused(400, f"body is not valid JSON ({error})") from None
    if not isinstance(payload, dict):
        raise Refused(400, "body must be a JSON object (an OTLP ExportTraceServiceRequest)")
    _hex_ids_to_base64(payload)
    try:
        json_format.ParseDict(payload, export, ignore_unknown_fields=True)
    except (json_format.ParseError, RecursionError, ValueError) as error:
        raise Refused(
            400, f"body is not a valid OTLP/JSON ExportTraceServiceRequest ({error})"
        ) from None
    return export


_ID_FIELDS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


def _hex_ids_to_base64(payload: dict[str, Any]) -> None:
    """OTLP/JSON writes trace and span ids in hex, where protobuf JSON expects base64."""
    for r, resource in enumerate(_list(payload, "resourceSpans", "resource_spans")):
        for s, scope in enumerate(_list(resource, "scopeSpans", "scope_spans")):
            for n, span in enumerate(_list(scope, "spans")):
                where = f"resourceSpans[{r}].scopeSpans[{s}].spans[{n}]"
                _convert_ids(span, where)
                for k, link in enumerate(_list(span, "links")):
                    _convert_ids(link, f"{where}.links[{k}]")


def _list(parent: Any, *names: str) -> list[Any]:
    if not isinstance(parent, dict):
        return []
    for name in names:
        value = parent.get(name)
        if isinstance(value, list):
            return value
    return []


def _convert_ids(item: Any, where: str) -> None:
    if not isinstance(item, dict):
        return
    for name in _ID_FIELDS:
        value = item.get(name)
        if not isinstance(value, str):
            continue
        try:
            item[name] = base64.b64encode(bytes.fromhex(value)).decode()
        except ValueError:
            raise Refused(400, f"{where}.{name} is not a hex string") from None


# ---------------------------------------------------------------- refusals


def _refusal(refused: Refused, media: str, code: int) -> Response:
    """A google.rpc.Status body in the request's encoding, as OTLP/HTTP asks of errors."""
    if media == JSON:
        body = json.dumps({"code": code, "message": refused.message}).encode()
        return Response(body, status_code=refused.status, media_type=JSON)
    return Response(
        _status_proto(code, refused.message), status_code=refused.status, media_type=PROTOBUF
    )


def _status_proto(code: int, message: str) -> bytes:
    """google.rpc.Status{code = 1, message = 2} in protobuf wire format.

    Written by hand: its generated class lives in googleapis-common-protos, a dependency
    fireline does not otherwise need for two fields.
    """
    text = message.encode()
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        low, number = number & 0x7F, number >> 7
        if number:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)
