"""OpenTelemetry GenAI spans → calls: every convention attribute, old and new names."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from fireline.domain.telemetry import Call, CallStatus
from fireline.ingest.otlp import (
    MAX_ATTRIBUTE_CHARS,
    MAX_ATTRIBUTES,
    SpanBatch,
    count_spans,
    spans_to_calls,
)
from fireline.ingest.schema import MAX_TEXT_CHARS
from tests.conftest import T0

START_NS = int(T0.timestamp()) * 10**9
TRACE = bytes.fromhex("5b8efff798038103d269b633813fc60c")
SPAN = bytes.fromhex("eee19b7ec3c1b174")
CALL_ID = "5b8efff798038103d269b633813fc60c-eee19b7ec3c1b174"
SERVICE = {"service.name": "support-bot"}


def any_value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, str):
        return AnyValue(string_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    if isinstance(value, list):
        return AnyValue(array_value=ArrayValue(values=[any_value(item) for item in value]))
    if isinstance(value, dict):
        return AnyValue(kvlist_value=KeyValueList(values=key_values(value)))
    raise TypeError(value)


def key_values(attributes: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=key, value=any_value(value)) for key, value in attributes.items()]


def event(name: str, **attributes: Any) -> Span.Event:
    return Span.Event(name=name, time_unix_nano=START_NS, attributes=key_values(attributes))


def span(
    attributes: dict[str, Any] | None = None,
    *,
    trace_id: bytes = TRACE,
    span_id: bytes = SPAN,
    start: int = START_NS,
    duration_ns: int = 812_500_000,
    status: int = Status.STATUS_CODE_UNSET,
    events: Iterable[Span.Event] = (),
) -> Span:
    return Span(
        trace_id=trace_id,
        span_id=span_id,
        name="chat gpt-4o",
        kind=Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=start,
        end_time_unix_nano=start + duration_ns if start else duration_ns,
        attributes=key_values({"gen_ai.operation.name": "chat", **(attributes or {})}),
        status=Status(code=status),
        events=list(events),
    )


def export(*spans: Span, resource: dict[str, Any] | None = None) -> ExportTraceServiceRequest:
    attributes = SERVICE if resource is None else resource
    return ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=key_values(attributes)),
                scope_spans=[ScopeSpans(spans=list(spans))],
            )
        ]
    )


def mapped(*spans: Span, resource: dict[str, Any] | None = None, **options: Any) -> SpanBatch:
    return spans_to_calls(export(*spans, resource=resource), **options)


def one_call(attributes: dict[str, Any] | None = None, **span_options: Any) -> Call:
    resource = span_options.pop("resource", None)
    batch = mapped(span(attributes, **span_options), resource=resource)
    assert batch.rejected == 0, batch.problems
    assert len(batch.calls) == 1
    return batch.calls[0]


def messages(*turns: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"role": role, "parts": [{"type": "text", "content": text}]} for role, text in turns]


# ---------------------------------------------------------------- identity and time


def test_a_chat_span_maps_to_a_call_keyed_by_trace_and_span() -> None:
    call = one_call(
        {
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.response.model": "gpt-4o-2024-08-06",
            "gen_ai.response.id": "chatcmpl-123",
            "gen_ai.usage.input_tokens": 100,
            "gen_ai.usage.output_tokens": 180,
            "gen_ai.response.finish_reasons": ["stop"],
            "gen_ai.conversation.id": "conv_5j66",
        }
    )
    assert call.call_id == CALL_ID
    assert call.trace_id == TRACE.hex()
    assert call.span_id == SPAN.hex()
    assert call.time == T0
    assert call.time.tzinfo is UTC
    assert call.latency_ms == 812.5
    assert call.feature == "support-bot"
    assert call.status is CallStatus.OK
    assert call.error_type is None
    assert call.operation == "chat"
    assert call.provider == "openai"
    assert call.request_model == "gpt-4o"
    assert call.model == "gpt-4o-2024-08-06"
    assert call.response_id == "chatcmpl-123"
    assert (call.input_tokens, call.output_tokens) == (100, 180)
    assert call.finish_reason == "stop"
    assert call.session_id == "conv_5j66"
    assert call.attributes == {}


def test_the_start_time_keeps_microseconds_and_latency_keeps_nanoseconds() -> None:
    call = one_call(start=START_NS + 123_456_789, duration_ns=1_234_567)
    assert call.time == T0 + timedelta(microseconds=123_456)
    assert call.latency_ms == pytest.approx(1.234567)


# ---------------------------------------------------------------- old and new names


def test_older_convention_names_are_read_when_the_new_ones_are_absent() -> None:
    call = one_call(
        {
            "gen_ai.system": "anthropic",
            "gen_ai.request.model": "claude-3",
            "gen_ai.usage.prompt_tokens": 7,
            "gen_ai.usage.completion_tokens": 9,
        }
    )
    assert call.provider == "anthropic"
    assert call.model == "claude-3"  # no response model: the model asked for
    assert call.request_model == "claude-3"
    assert (call.input_tokens, call.output_tokens) == (7, 9)


def test_new_names_win_over_old_ones() -> None:
    call = one_call(
        {
            "gen_ai.provider.name": "azure.ai.openai",
            "gen_ai.system": "openai",
            "gen_ai.usage.input_tokens": 1,
            "gen_ai.usage.prompt_tokens": 2,
            "gen_ai.usage.output_tokens": 3,
            "gen_ai.usage.completion_tokens": 4,
        }
    )
    assert call.provider == "azure.ai.openai"
    assert (call.input_tokens, call.output_tokens) == (1, 3)


def test_token_counts_sent_as_whole_doubles_are_integers() -> None:
    call = one_call({"gen_ai.usage.input_tokens": 12.0, "gen_ai.usage.output_tokens": 3.0})
    assert (call.input_tokens, call.output_tokens) == (12, 3)
    assert isinstance(call.input_tokens, int)


@pytest.mark.parametrize(
    ("reasons", "expected"),
    [(["length", "stop"], "length"), ("stop", "stop"), ([], None)],
    ids=["first of several", "a plain string", "empty"],
)
def test_the_first_finish_reason_is_kept(reasons: Any, expected: str | None) -> None:
    assert one_call({"gen_ai.response.finish_reasons": reasons}).finish_reason == expected


def test_time_to_first_chunk_in_seconds_becomes_milliseconds() -> None:
    call = one_call(
        {"gen_ai.response.time_to_first_chunk": 0.25, "fireline.time_to_first_token_ms": 999.0}
    )
    assert call.time_to_first_token_ms == 250.0


def test_fireline_time_to_first_token_is_the_fallback() -> None:
    call = one_call({"fireline.time_to_first_token_ms": 120.0})
    assert call.time_to_first_token_ms == 120.0


def test_session_id_is_the_conversation_id_else_session_id() -> None:
    assert one_call({"session.id": "s1"}).session_id == "s1"
    both = one_call({"gen_ai.conversation.id": "c1", "session.id": "s1"})
    assert both.session_id == "c1"


# ---------------------------------------------------------------- errors


def test_an_error_status_with_error_type_is_a_failed_call() -> None:
    call = one_call({"error.type": "rate_limit_exceeded"}, status=Status.STATUS_CODE_ERROR)
    assert call.status is CallStatus.ERROR
    assert call.error_type == "rate_limit_exceeded"


def test_without_error_type_the_exception_event_names_the_error() -> None:
    call = one_call(
        status=Status.STATUS_CODE_ERROR,
        events=[event("exception", **{"exception.type": "openai.APITimeoutError"})],
    )
    assert call.error_type == "openai.APITimeoutError"


def test_an_error_status_without_any_type_is_called_error() -> None:
    call = one_call(status=Status.STATUS_CODE_ERROR)
    assert (call.status, call.error_type) == (CallStatus.ERROR, "error")


def test_an_unset_status_with_error_type_failed_but_an_ok_status_did_not() -> None:
    assert one_call({"error.type": "timeout"}).status is CallStatus.ERROR
    ok = one_call({"error.type": "timeout"}, status=Status.STATUS_CODE_OK)
    assert (ok.status, ok.error_type) == (CallStatus.OK, None)


def test_an_error_type_sent_as_a_number_is_kept_as_text() -> None:
    call = one_call({"error.type": 503}, status=Status.STATUS_CODE_ERROR)
    assert call.error_type == "503"


# ---------------------------------------------------------------- fireline's attributes


def test_fireline_attributes_on_the_span() -> None:
    call = one_call(
        {
            "fireline.feature": "search",
            "fireline.tenant": "acme",
            "fireline.user": "u-1",
            "fireline.model_version": "2026-03-01",
            "fireline.prompt_version": "p7",
            "fireline.index_version": "idx-42",
            "fireline.retrieved_doc_ids": ["d1", "d2", "d3"],
            "fireline.cited_doc_ids": ["d2"],
            "fireline.cost_usd": 0.0042,
            "fireline.eval.faithfulness": 0.82,
            "fireline.eval.relevance": 1,
        }
    )
    assert call.feature == "search"
    assert call.tenant == "acme"
    assert call.user == "u-1"
    assert call.model_version == "2026-03-01"
    assert call.prompt_version == "p7"
    assert call.index_version == "idx-42"
    assert call.retrieved_doc_ids == ("d1", "d2", "d3")
    assert call.cited_doc_ids == ("d2",)
    assert call.cost_usd == 0.0042
    assert call.eval_scores == {"faithfulness": 0.82, "relevance": 1.0}
    assert call.attributes == {}


def test_fireline_attributes_fall_back_to_the_resource_and_the_span_wins() -> None:
    resource = {
        "service.name": "ignored-when-feature-set",
        "fireline.feature": "search",
        "fireline.tenant": "acme",
        "fireline.prompt_version": "p6",
        "fireline.eval.toxicity": 0.1,
    }
    call = one_call({"fireline.prompt_version": "p7"}, resource=resource)
    assert call.feature == "search"
    assert call.tenant == "acme"
    assert call.prompt_version == "p7"
    assert call.eval_scores == {"toxicity": 0.1}


def test_the_feature_is_the_service_name_without_fireline_feature() -> None:
    assert one_call(resource={"service.name": "checkout-assistant"}).feature == (
        "checkout-assistant"
    )


@pytest.mark.parametrize(
    ("span_attributes", "resource", "expected"),
    [
        ({"user.id": "u-2", "enduser.id": "u-3"}, SERVICE, "u-2"),
        ({"enduser.id": "u-3"}, SERVICE, "u-3"),
        ({"user.id": "u-2"}, {**SERVICE, "fireline.user": "u-1"}, "u-1"),
        ({}, {**SERVICE, "enduser.id": "u-4"}, "u-4"),
    ],
)
def test_the_user_is_fireline_user_else_user_id_else_enduser_id(
    span_attributes: dict[str, Any], resource: dict[str, Any], expected: str
) -> None:
    assert one_call(span_attributes, resource=resource).user == expected


def test_evaluation_result_events_become_eval_scores_and_attributes_win() -> None:
    call = one_call(
        {"fireline.eval.relevance": 0.9},
        events=[
            event(
                "gen_ai.evaluation.result",
                **{"gen_ai.evaluation.name": "Relevance", "gen_ai.evaluation.score.value": 4.0},
            ),
            event(
                "gen_ai.evaluation.result",
                **{"gen_ai.evaluation.name": "relevance", "gen_ai.evaluation.score.value": 0.1},
            ),
            event(
                "gen_ai.evaluation.result",
                **{"gen_ai.evaluation.name": "label_only", "gen_ai.evaluation.score.label": "ok"},
            ),
        ],
    )
    assert call.eval_scores == {"Relevance": 4.0, "relevance": 0.9}


# ---------------------------------------------------------------- content


def test_input_and_output_messages_as_json_strings() -> None:
    call = one_call(
        {
            "gen_ai.input.messages": json.dumps(messages(("user", "Weather in Paris?"))),
            "gen_ai.output.messages": json.dumps(
                [{**messages(("assistant", "Rainy, 57°F."))[0], "finish_reason": "stop"}]
            ),
        }
    )
    assert call.input_text == "Weather in Paris?"
    assert call.output_text == "Rainy, 57°F."
    assert call.finish_reason == "stop"  # from the output message, as no attribute says


def test_structured_messages_system_instructions_and_tool_calls_render_as_a_transcript() -> None:
    history = [
        *messages(("user", "Weather in Paris?")),
        {
            "role": "assistant",
            "parts": [
                {
                    "type": "tool_call",
                    "id": "c1",
                    "name": "get_weather",
                    "arguments": {"q": "Paris"},
                }
            ],
        },
        {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": "c1", "response": "rainy"}],
        },
    ]
    call = one_call(
        {
            "gen_ai.system_instructions": [{"type": "text", "content": "Be brief."}],
            "gen_ai.input.messages": history,
            "gen_ai.output.messages": [
                {
                    "role": "assistant",
                    "parts": [
                        {"type": "reasoning", "content": "thinking..."},
                        {"type": "text", "content": "Rainy."},
                    ],
                    "finish_reason": "stop",
                },
                {"role": "assistant", "parts": [{"type": "text", "content": "Wet."}]},
            ],
            "gen_ai.response.finish_reasons": ["length", "stop"],
        }
    )
    assert call.input_text == (
        "system: Be brief.\n\n"
        "user: Weather in Paris?\n\n"
        'assistant: [tool_call get_weather {"q":"Paris"}]\n\n'
        "tool: [tool_call_response rainy]"
    )
    assert call.output_text == "Rainy.\n\nWet."
    assert call.finish_reason == "length"  # the attribute wins over the messages


def test_content_that_is_not_json_is_kept_as_text() -> None:
    call = one_call({"gen_ai.input.messages": "[not json", "gen_ai.output.messages": "plain"})
    assert (call.input_text, call.output_text) == ("[not json", "plain")


def test_older_message_and_choice_events() -> None:
    call = one_call(
        events=[
            event("gen_ai.system.message", content="Be brief."),
            event("gen_ai.user.message", content="Hi"),
            event(
                "gen_ai.choice",
                index=0,
                finish_reason="stop",
                message={"role": "assistant", "content": "Hello!"},
            ),
        ]
    )
    assert call.input_text == "system: Be brief.\n\nuser: Hi"
    assert call.output_text == "Hello!"
    assert call.finish_reason == "stop"


def test_older_events_with_a_json_body_in_gen_ai_event_content() -> None:
    call = one_call(
        events=[
            event("gen_ai.user.message", **{"gen_ai.event.content": '{"content": "Hi"}'}),
            event(
                "gen_ai.choice",
                **{
                    "gen_ai.event.content": json.dumps(
                        {"index": 0, "finish_reason": "length", "message": {"content": "Hel"}}
                    )
                },
            ),
        ]
    )
    assert (call.input_text, call.output_text, call.finish_reason) == ("Hi", "Hel", "length")


def test_gen_ai_prompt_and_completion_attributes() -> None:
    call = one_call(
        {
            "gen_ai.prompt": json.dumps([{"role": "user", "content": "Capital of France?"}]),
            "gen_ai.completion": json.dumps(
                [{"role": "assistant", "content": "Paris", "finish_reason": "stop"}]
            ),
        }
    )
    assert (call.input_text, call.output_text, call.finish_reason) == (
        "Capital of France?",
        "Paris",
        "stop",
    )


def test_gen_ai_prompt_and_completion_in_content_events() -> None:
    call = one_call(
        events=[
            event("gen_ai.content.prompt", **{"gen_ai.prompt": "Capital of France?"}),
            event("gen_ai.content.completion", **{"gen_ai.completion": "Paris"}),
        ]
    )
    assert (call.input_text, call.output_text) == ("Capital of France?", "Paris")


def test_indexed_prompt_and_completion_attributes() -> None:
    call = one_call(
        {
            "gen_ai.prompt.1.role": "user",
            "gen_ai.prompt.1.content": "Hi",
            "gen_ai.prompt.0.role": "system",
            "gen_ai.prompt.0.content": "Be brief.",
            "gen_ai.completion.0.content": "Hello!",
            "gen_ai.completion.0.finish_reason": "stop",
        }
    )
    assert call.input_text == "system: Be brief.\n\nuser: Hi"
    assert (call.output_text, call.finish_reason) == ("Hello!", "stop")
    assert call.attributes == {}


def test_long_content_is_cut_to_the_text_limit() -> None:
    call = one_call({"gen_ai.prompt": "x" * (MAX_TEXT_CHARS + 10)})
    assert call.input_text == "x" * MAX_TEXT_CHARS


# ---------------------------------------------------------------- non-GenAI spans


def test_spans_without_gen_ai_attributes_are_dropped_and_counted() -> None:
    plain = span(span_id=b"\x00" * 7 + b"\x09")
    del plain.attributes[:]
    plain.attributes.extend(key_values({"http.route": "/search"}))
    batch = mapped(span(), plain)
    assert [call.call_id for call in batch.calls] == [CALL_ID]
    assert (batch.spans, batch.dropped, batch.rejected) == (2, 1, 0)
    assert batch.error_message() == ""


def test_any_gen_ai_attribute_makes_a_genai_span() -> None:
    retrieval = span()
    del retrieval.attributes[:]
    retrieval.attributes.extend(key_values({"gen_ai.data_source.id": "kb"}))
    call = mapped(retrieval).calls[0]
    assert call.operation is None
    assert call.attributes == {"gen_ai.data_source.id": "kb"}


def test_non_genai_spans_are_kept_when_asked() -> None:
    plain = span()
    del plain.attributes[:]
    plain.attributes.extend(key_values({"http.route": "/search"}))
    batch = mapped(plain, keep_non_genai=True)
    assert batch.dropped == 0
    assert batch.calls[0].feature == "support-bot"
    assert batch.calls[0].operation is None
    assert batch.calls[0].attributes == {"http.route": "/search"}


# ---------------------------------------------------------------- rejected spans


@pytest.mark.parametrize(
    ("options", "resource", "expected"),
    [
        ({}, {"service.name": "bad feature!"}, "field 'resource service.name': must be 1-128"),
        ({"attributes": {"fireline.feature": "-x"}}, SERVICE, "field 'fireline.feature'"),
        ({}, {}, "field 'feature': Field required"),
        ({"start": 0}, SERVICE, "span has no start time"),
        ({"trace_id": b"\x00" * 16}, SERVICE, "trace_id must be 16 bytes"),
        ({"span_id": b"\x01\x02"}, SERVICE, "span_id must be 8 bytes"),
    ],
    ids=[
        "invalid service name",
        "invalid fireline.feature",
        "no feature",
        "no start",
        "zero trace id",
        "short span id",
    ],
)
def test_a_span_that_cannot_be_a_valid_call_is_rejected_and_the_rest_kept(
    options: dict[str, Any], resource: dict[str, Any], expected: str
) -> None:
    bad = span(options.pop("attributes", None), **options)
    good = span(span_id=b"\x00" * 7 + b"\x07", trace_id=TRACE)
    batch = spans_to_calls(
        ExportTraceServiceRequest(
            resource_spans=[
                ResourceSpans(
                    resource=Resource(attributes=key_values(resource)),
                    scope_spans=[ScopeSpans(spans=[bad])],
                ),
                ResourceSpans(
                    resource=Resource(attributes=key_values(SERVICE)),
                    scope_spans=[ScopeSpans(spans=[good])],
                ),
            ]
        )
    )
    assert batch.rejected == 1
    assert [call.span_id for call in batch.calls] == ["0000000000000007"]
    message = batch.error_message()
    assert message.startswith("1 of 2 spans rejected: span 1")
    assert expected in message


def test_a_span_without_end_or_ending_before_it_starts_is_rejected() -> None:
    no_end = span()
    no_end.end_time_unix_nano = 0
    backwards = span(span_id=b"\x00" * 7 + b"\x02")
    backwards.end_time_unix_nano = START_NS - 1
    batch = mapped(no_end, backwards)
    assert (batch.rejected, batch.calls) == (2, [])
    assert [str(problem) for problem in batch.problems] == [
        "span 1: span has no end time",
        "span 2: span ends before it starts",
    ]


def test_a_malformed_optional_attribute_is_left_out_and_reported() -> None:
    batch = mapped(
        span(
            {
                "gen_ai.usage.input_tokens": "twelve",
                "gen_ai.usage.output_tokens": 3,
                "fireline.cost_usd": -1.0,
            }
        )
    )
    assert batch.rejected == 0
    call = batch.calls[0]
    assert (call.input_tokens, call.output_tokens, call.cost_usd) == (None, 3, None)
    assert [problem.field for problem in batch.warnings] == [
        "gen_ai.usage.input_tokens",
        "fireline.cost_usd",
    ]
    assert batch.error_message() == (
        "fields left out of stored calls: "
        "span 1, field 'gen_ai.usage.input_tokens': Input should be a valid integer; "
        "span 1, field 'fireline.cost_usd': Input should be greater than or equal to 0"
    )


def test_a_malformed_eval_score_names_its_attribute() -> None:
    batch = mapped(span({"fireline.eval.faithfulness": "high"}))
    assert batch.calls[0].eval_scores == {}
    assert batch.warnings[0].field == "fireline.eval.faithfulness"


def test_problems_are_bounded_but_counts_are_exact() -> None:
    spans = [span(span_id=bytes(8)) for _ in range(30)]
    batch = mapped(*spans)
    assert batch.rejected == 30
    assert len(batch.problems) == 20
    assert batch.error_message().startswith("30 of 30 spans rejected")


# ---------------------------------------------------------------- the free attributes


def test_other_scalar_attributes_are_kept_and_content_and_mapped_ones_are_not() -> None:
    call = one_call(
        {
            "gen_ai.request.temperature": 0.2,
            "gen_ai.request.max_tokens": 256,
            "gen_ai.request.stream": True,
            "server.address": "api.openai.com",
            "gen_ai.request.stop_sequences": ["\n"],  # not a scalar
            "gen_ai.tool.call.arguments": '{"q": "Paris"}',  # content
            "gen_ai.input.messages": "Hi",
            "gen_ai.provider.name": "openai",  # mapped
            "user.id": "u-1",
            "fireline.eval.x": 1.0,
            "fireline.custom": "kept",
            "nan": float("nan"),
            "blob": b"\x00",
            "k" * 201: "key too long",
        }
    )
    assert call.attributes == {
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.max_tokens": 256,
        "gen_ai.request.stream": True,
        "server.address": "api.openai.com",
        "fireline.custom": "kept",
    }


def test_attributes_are_bounded_in_number_and_length() -> None:
    many = {f"app.attr{i:03}": i for i in range(MAX_ATTRIBUTES + 10)}
    call = one_call({"app.long": "y" * 5_000, **many})
    assert len(call.attributes) == MAX_ATTRIBUTES
    assert call.attributes["app.long"] == "y" * MAX_ATTRIBUTE_CHARS
    assert "app.attr062" in call.attributes
    assert "app.attr063" not in call.attributes  # the first 64, in span order


def test_count_spans_counts_across_resources_and_scopes() -> None:
    request = export(span(), span())
    request.resource_spans.append(request.resource_spans[0])
    assert count_spans(request) == 4


def test_times_are_utc() -> None:
    assert one_call().time == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
