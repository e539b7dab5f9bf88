"""POST /v1/traces on a real server: the official OpenTelemetry SDK and exporter send to it."""

from __future__ import annotations

import gzip
import json
import uuid
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from google.rpc.status_pb2 import Status as RpcStatus
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.trace import SpanKind, StatusCode

from fireline.api.app import MAX_BODY_BYTES, create_app
from fireline.api.routes.otlp import MAX_DECOMPRESSED_BYTES
from fireline.clock import SimulatedClock
from fireline.domain.access import Role
from fireline.runtime import Fireline
from fireline.tokens import issue_token
from tests.conftest import T0
from tests.servers import serving

START_NS = int(T0.timestamp()) * 10**9
TRACE_HEX = "5b8efff798038103d269b633813fc60c"
SPAN_HEX = "eee19b7ec3c1b174"
PROTOBUF = {"content-type": "application/x-protobuf"}


def token_for(deployment: tuple[Fireline, SimulatedClock], role: Role = Role.APP) -> str:
    app, clock = deployment
    return issue_token(app.state, f"otel-{role}-{uuid.uuid4().hex[:8]}", role, now=clock.now())


@pytest.fixture
def client(deployment: tuple[Fireline, SimulatedClock], base_url: str) -> Iterator[httpx.Client]:
    """An app's client, as an exporter would authenticate."""
    headers = {"Authorization": f"Bearer {token_for(deployment)}"}
    with httpx.Client(base_url=base_url, headers=headers) as http:
        yield http


def stored_user(app: Fireline, user: str) -> str | None:
    """The user column /v1/calls stores for `user` (the deployment may pseudonymize it)."""
    row = {"call_id": "reference", "time": T0.isoformat(), "feature": "ref", "user": user}
    app.ingest.ingest_rows([(1, row)])
    reference = app.telemetry.get_call("reference")
    assert reference is not None
    value: str | None = reference["user_id"]
    return value


# ---------------------------------------------------------------- the official SDK


def provider(processor: SpanProcessor) -> TracerProvider:
    """A TracerProvider of its own (never the global one), with fireline's resource."""
    tracer_provider = TracerProvider(
        resource=Resource.create({"service.name": "support-bot", "fireline.tenant": "acme"})
    )
    tracer_provider.add_span_processor(processor)
    return tracer_provider


CHAT_ATTRIBUTES: dict[str, Any] = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.response.model": "gpt-4o-2024-08-06",
    "gen_ai.response.id": "chatcmpl-123",
    "gen_ai.usage.input_tokens": 100,
    "gen_ai.usage.output_tokens": 180,
    "gen_ai.response.finish_reasons": ["stop"],
    "gen_ai.response.time_to_first_chunk": 0.25,
    "gen_ai.conversation.id": "conv_5j66",
    "gen_ai.request.temperature": 0.2,
    "gen_ai.input.messages": json.dumps(
        [{"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]}]
    ),
    "gen_ai.output.messages": json.dumps(
        [
            {
                "role": "assistant",
                "parts": [{"type": "text", "content": "Rainy, 57°F."}],
                "finish_reason": "stop",
            }
        ]
    ),
    "fireline.user": "u-1",
    "fireline.prompt_version": "p7",
    "fireline.retrieved_doc_ids": ["d1", "d2"],
    "fireline.cited_doc_ids": ["d2"],
    "fireline.eval.faithfulness": 0.82,
    "fireline.cost_usd": 0.0042,
}


@pytest.mark.parametrize(
    ("processor_kind", "compression"),
    [
        ("simple", Compression.NoCompression),
        ("simple", Compression.Gzip),
        ("batch", Compression.Gzip),
        ("batch", Compression.Deflate),
    ],
)
def test_genai_spans_sent_by_the_sdk_are_stored_field_by_field(
    deployment: tuple[Fireline, SimulatedClock],
    base_url: str,
    processor_kind: str,
    compression: Compression,
) -> None:
    app, _ = deployment
    exporter = OTLPSpanExporter(
        endpoint=f"{base_url}/v1/traces",
        headers={"Authorization": f"Bearer {token_for(deployment)}"},
        compression=compression,
        timeout=10,
    )
    processor = (
        SimpleSpanProcessor(exporter)
        if processor_kind == "simple"
        else BatchSpanProcessor(exporter)
    )
    tracer_provider = provider(processor)
    try:
        tracer = tracer_provider.get_tracer("fireline.tests")
        chat = tracer.start_span(
            "chat gpt-4o", kind=SpanKind.CLIENT, attributes=CHAT_ATTRIBUTES, start_time=START_NS
        )
        chat.end(end_time=START_NS + 812_500_000)
        failed = tracer.start_span(
            "chat gpt-4o",
            kind=SpanKind.CLIENT,
            attributes={"gen_ai.operation.name": "chat", "gen_ai.system": "openai"},
            start_time=START_NS + 10**9,
        )
        failed.record_exception(TimeoutError("provider did not answer"))
        failed.set_status(StatusCode.ERROR)
        failed.end(end_time=START_NS + 31 * 10**9)
        plain = tracer.start_span("GET /search", start_time=START_NS)
        plain.end(end_time=START_NS + 10**6)
        assert tracer_provider.force_flush(10_000)
    finally:
        tracer_provider.shutdown()

    assert app.telemetry.count_calls() == 2  # the plain HTTP span was dropped
    chat_context, failed_context = chat.get_span_context(), failed.get_span_context()
    stored = app.telemetry.get_call(f"{chat_context.trace_id:032x}-{chat_context.span_id:016x}")
    assert stored is not None
    assert stored["trace_id"] == f"{chat_context.trace_id:032x}"
    assert stored["span_id"] == f"{chat_context.span_id:016x}"
    assert stored["time"] == T0
    assert stored["latency_ms"] == 812.5
    assert stored["feature"] == "support-bot"
    assert stored["status"] == "ok"
    assert stored["error_type"] is None
    assert stored["operation"] == "chat"
    assert stored["provider"] == "openai"
    assert stored["request_model"] == "gpt-4o"
    assert stored["model"] == "gpt-4o-2024-08-06"
    assert stored["response_id"] == "chatcmpl-123"
    assert (stored["input_tokens"], stored["output_tokens"]) == (100, 180)
    assert stored["finish_reason"] == "stop"
    assert stored["time_to_first_token_ms"] == 250.0
    assert stored["session_id"] == "conv_5j66"
    assert stored["input_text"] == "Weather in Paris?"
    assert stored["output_text"] == "Rainy, 57°F."
    assert stored["tenant"] == "acme"  # from the resource
    assert stored["user_id"] == stored_user(app, "u-1")
    assert stored["prompt_version"] == "p7"
    assert stored["model_version"] is None
    assert stored["index_version"] is None
    assert stored["retrieved_doc_ids"] == ["d1", "d2"]
    assert stored["cited_doc_ids"] == ["d2"]
    assert stored["eval_scores"] == {"faithfulness": 0.82}
    assert stored["cost_usd"] == 0.0042
    assert stored["attributes"] == {"gen_ai.request.temperature": 0.2}

    error = app.telemetry.get_call(f"{failed_context.trace_id:032x}-{failed_context.span_id:016x}")
    assert error is not None
    assert (error["status"], error["error_type"]) == ("error", "TimeoutError")
    assert error["provider"] == "openai"
    assert error["latency_ms"] == 30_000.0


def test_an_exporter_without_a_token_is_refused(
    deployment: tuple[Fireline, SimulatedClock], base_url: str
) -> None:
    tracer_provider = provider(SimpleSpanProcessor(OTLPSpanExporter(f"{base_url}/v1/traces")))
    try:
        span = tracer_provider.get_tracer("t").start_span("chat", attributes=CHAT_ATTRIBUTES)
        span.end()
    finally:
        tracer_provider.shutdown()
    assert deployment[0].telemetry.count_calls() == 0


# ---------------------------------------------------------------- OTLP/JSON over httpx


def json_attribute(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}  # int64 as a string
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    return {"key": key, "value": {"stringValue": value}}


def json_span(span_hex: str = SPAN_HEX, **attributes: Any) -> dict[str, Any]:
    return {
        "traceId": TRACE_HEX.upper(),  # hex, either case
        "spanId": span_hex,
        "parentSpanId": "",
        "name": "chat gpt-4o",
        "kind": 3,
        "startTimeUnixNano": str(START_NS),
        "endTimeUnixNano": START_NS + 812_500_000,  # int64 as a number
        "attributes": [
            json_attribute(key.replace("__", "."), value) for key, value in attributes.items()
        ],
        "status": {"code": 2, "message": "rate limited"},
        "droppedAttributesCount": 0,
        "someFieldFromTheFuture": {"ignored": True},
    }


def json_export(*spans: dict[str, Any], service: str = "support-bot") -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [json_attribute("service.name", service)]},
                "scopeSpans": [{"scope": {"name": "manual"}, "spans": list(spans)}],
            }
        ]
    }


CHAT = {
    "gen_ai__operation__name": "chat",
    "gen_ai__request__model": "gpt-4o",
    "gen_ai__usage__input_tokens": 12,
    "error__type": "rate_limit_exceeded",
}


def test_otlp_json_is_accepted_and_answered_in_json(
    client: httpx.Client, deployment: tuple[Fireline, SimulatedClock]
) -> None:
    response = client.post("/v1/traces", json=json_export(json_span(**CHAT)))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {}
    stored = deployment[0].telemetry.get_call(f"{TRACE_HEX}-{SPAN_HEX}")
    assert stored is not None
    assert stored["time"] == T0
    assert stored["latency_ms"] == 812.5
    assert stored["input_tokens"] == 12
    assert (stored["status"], stored["error_type"]) == ("error", "rate_limit_exceeded")


def test_a_resent_export_is_stored_once(
    client: httpx.Client, deployment: tuple[Fireline, SimulatedClock]
) -> None:
    body = json_export(json_span(**CHAT))
    assert client.post("/v1/traces", json=body).status_code == 200
    assert client.post("/v1/traces", json=body).status_code == 200
    assert deployment[0].telemetry.count_calls() == 1


def test_gzipped_json_is_accepted(
    client: httpx.Client, deployment: tuple[Fireline, SimulatedClock]
) -> None:
    body = gzip.compress(json.dumps(json_export(json_span(**CHAT))).encode())
    response = client.post(
        "/v1/traces",
        content=body,
        headers={"content-type": "application/json; charset=utf-8", "content-encoding": "gzip"},
    )
    assert response.status_code == 200
    assert deployment[0].telemetry.count_calls() == 1


def test_partial_success_counts_rejected_spans_and_stores_the_rest(
    client: httpx.Client, deployment: tuple[Fireline, SimulatedClock]
) -> None:
    bad = json_span("0000000000000002", **CHAT)
    bad["startTimeUnixNano"] = "0"
    body = json_export(json_span(**CHAT), bad)
    response = client.post("/v1/traces", json=body)
    assert response.status_code == 200
    partial = response.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "1"
    assert partial["errorMessage"] == "1 of 2 spans rejected: span 2: span has no start time"
    assert deployment[0].telemetry.count_calls() == 1


def test_partial_success_in_protobuf(
    client: httpx.Client, deployment: tuple[Fireline, SimulatedClock]
) -> None:
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest()
    body = json_export(json_span(**CHAT), service="not a feature!")
    for span in body["resourceSpans"][0]["scopeSpans"][0]["spans"]:  # protobuf JSON: base64
        span["traceId"] = "W47/95gDgQPSabYzgT/GDA=="
        span["spanId"] = "7uGbfsPBsXQ="
    json_format.ParseDict(body, request, ignore_unknown_fields=True)
    response = client.post("/v1/traces", content=request.SerializeToString(), headers=PROTOBUF)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_spans == 1
    assert "field 'resource service.name': must be 1-128" in answer.partial_success.error_message
    assert deployment[0].telemetry.count_calls() == 0


def test_non_genai_spans_are_kept_when_the_deployment_says_so(
    deployment: tuple[Fireline, SimulatedClock],
) -> None:
    api = create_app(deployment[0])
    api.state.otlp_keep_non_genai = True
    plain = json_span(**{"http__route": "/search"})
    headers = {"Authorization": f"Bearer {token_for(deployment)}"}
    with serving(api) as url:
        response = httpx.post(f"{url}/v1/traces", json=json_export(plain), headers=headers)
    assert response.status_code == 200
    stored = deployment[0].telemetry.get_call(f"{TRACE_HEX}-{SPAN_HEX}")
    assert stored is not None
    assert stored["operation"] is None
    assert stored["attributes"] == {"http.route": "/search"}


# ---------------------------------------------------------------- refusals


def rpc_status(response: httpx.Response) -> tuple[int, str]:
    """The google.rpc.Status body of a refusal, in either encoding."""
    if response.headers["content-type"] == "application/json":
        body = response.json()
        return body["code"], body["message"]
    status = RpcStatus.FromString(response.content)
    return status.code, status.message


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"content-type": "text/plain"}, "Content-Type must be"),
        ({}, "Content-Type must be"),
        ({"content-type": "application/json", "content-encoding": "br"}, "'br' not supported"),
    ],
    ids=["text", "none", "brotli"],
)
def test_unsupported_media_is_a_415(
    client: httpx.Client, headers: dict[str, str], expected: str
) -> None:
    response = client.post("/v1/traces", content=b"{}", headers=headers)
    assert response.status_code == 415
    assert expected in rpc_status(response)[1]


@pytest.mark.parametrize(
    ("body", "headers", "expected"),
    [
        (b"\x0a\xff\xff", PROTOBUF, "not a valid protobuf ExportTraceServiceRequest"),
        (b"{not json", {"content-type": "application/json"}, "not valid JSON"),
        (b"[]", {"content-type": "application/json"}, "must be a JSON object"),
        (
            b'{"resourceSpans": 5}',
            {"content-type": "application/json"},
            "not a valid OTLP/JSON ExportTraceServiceRequest",
        ),
        (
            json.dumps(json_export(json_span("zz", **CHAT))).encode(),
            {"content-type": "application/json"},
            "resourceSpans[0].scopeSpans[0].spans[0].spanId is not a hex string",
        ),
        (
            gzip.compress(b"{}")[:-6],
            {"content-type": "application/json", "content-encoding": "gzip"},
            "gzip body is truncated",
        ),
        (
            b"not gzip at all",
            {"content-type": "application/x-protobuf", "content-encoding": "gzip"},
            "not valid gzip data",
        ),
    ],
    ids=["protobuf", "json", "json array", "json shape", "hex id", "truncated gzip", "not gzip"],
)
def test_malformed_bodies_are_a_400_naming_the_problem(
    client: httpx.Client, body: bytes, headers: dict[str, str], expected: str
) -> None:
    response = client.post("/v1/traces", content=body, headers=headers)
    assert response.status_code == 400
    assert response.headers["content-type"] == headers["content-type"].split(";")[0]
    code, message = rpc_status(response)
    assert code == 3  # INVALID_ARGUMENT
    assert expected in message


def test_an_oversized_body_is_a_413(client: httpx.Client) -> None:
    response = client.post("/v1/traces", content=b"\0" * (MAX_BODY_BYTES + 1), headers=PROTOBUF)
    assert response.status_code == 413
    assert rpc_status(response) == (
        8,
        f"request body larger than {MAX_BODY_BYTES} bytes; export smaller batches",
    )


def test_a_zip_bomb_is_a_413_before_it_is_inflated(
    client: httpx.Client, deployment: tuple[Fireline, SimulatedClock]
) -> None:
    squeezer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b"\0" * (1 << 20)
    bomb = b"".join(
        squeezer.compress(chunk) for _ in range(MAX_DECOMPRESSED_BYTES // len(chunk) + 1)
    )
    bomb += squeezer.flush()
    assert len(bomb) < MAX_BODY_BYTES // 100
    response = client.post(
        "/v1/traces", content=bomb, headers={**PROTOBUF, "content-encoding": "gzip"}
    )
    assert response.status_code == 413
    assert "gzip body inflated larger than" in rpc_status(response)[1]
    assert deployment[0].telemetry.count_calls() == 0


def test_without_a_token_is_a_401_and_a_viewer_token_a_403(
    deployment: tuple[Fireline, SimulatedClock], base_url: str
) -> None:
    body = json_export(json_span(**CHAT))
    anonymous = httpx.post(f"{base_url}/v1/traces", json=body)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    viewer = {"Authorization": f"Bearer {token_for(deployment, Role.VIEWER)}"}
    assert httpx.post(f"{base_url}/v1/traces", json=body, headers=viewer).status_code == 403
    assert deployment[0].telemetry.count_calls() == 0


def test_the_route_is_in_the_openapi_document(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "application/x-protobuf" in paths["/v1/traces"]["post"]["requestBody"]["content"]
