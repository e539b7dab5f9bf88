"""OTLP spans mapped column by column agree with the span-by-span mapping, whatever they hold."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from fireline.ingest.otlp import SpanBatch, spans_to_calls, spans_to_calls_one_by_one
from fireline.ingest.otlp_columns import span_columns
from tests.conftest import T0

START_NS = int(T0.timestamp()) * 10**9

MESSAGES = json.dumps([{"role": "user", "parts": [{"type": "text", "content": "hi 42"}]}])
ANSWER = json.dumps([{"role": "assistant", "parts": [{"content": "ok"}], "finish_reason": "stop"}])
names = st.sampled_from(["openai", "gpt-4o", "support-bot", " padded ", "chat"])
# Values of every kind OTLP has, most of them wrong for any field.
wild = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats()
    | st.text(max_size=8)
    | st.binary(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=5,
)
tokens = st.integers(min_value=0, max_value=10**6) | st.just(12.0)
# Values that are wrong for the field, but only just.
wrong = st.sampled_from(["x" * 201, "not a feature!", 2.5, -1, True, ["x" * 201]])
# Attributes the mapping reads (and some it does not): usually a value it takes, sometimes not.
KEYS: dict[str, st.SearchStrategy[Any]] = {
    "gen_ai.operation.name": st.sampled_from(["chat", "embeddings"]),
    "gen_ai.provider.name": names,
    "gen_ai.system": names,
    "gen_ai.request.model": names,
    "gen_ai.response.model": names,
    "gen_ai.response.id": names,
    "gen_ai.usage.input_tokens": tokens,
    "gen_ai.usage.output_tokens": tokens,
    "gen_ai.usage.prompt_tokens": tokens,
    "gen_ai.response.finish_reasons": st.lists(st.sampled_from(["stop", "length"]), max_size=2)
    | st.just("stop"),
    "gen_ai.response.time_to_first_chunk": st.floats(min_value=0, max_value=5),
    "gen_ai.conversation.id": names,
    "gen_ai.input.messages": st.sampled_from([MESSAGES, "plain 7", "[not json"]),
    "gen_ai.output.messages": st.sampled_from([ANSWER, "plain"]),
    "gen_ai.prompt": st.sampled_from(["a prompt", MESSAGES]),
    "gen_ai.request.temperature": st.floats(min_value=0, max_value=2),
    "error.type": st.sampled_from(["timeout", 503, 429.0]),
    "user.id": names,
    "service.name": st.sampled_from(["support-bot", "search"]),
    "fireline.feature": st.sampled_from(["support-bot", "summarize"]),
    "fireline.tenant": names,
    "fireline.cost_usd": st.floats(min_value=0, max_value=1),
    "fireline.retrieved_doc_ids": st.lists(names, max_size=2),
    "fireline.time_to_first_token_ms": st.floats(min_value=0, max_value=900),
    "fireline.eval.relevance": st.floats(min_value=0, max_value=1),
    "server.address": st.sampled_from(["api.example.com", "y" * 2000]),
    " padded.key ": st.booleans(),
    "k" * 201: st.integers(min_value=0, max_value=9),
}


@st.composite
def attributes(draw: st.DrawFn, keys: list[str], most: int, odd: bool = True) -> dict[str, Any]:
    """Some of `keys` with their values; with `odd`, any value may be wrong or wild."""
    chosen = draw(st.lists(st.sampled_from(keys), max_size=most, unique=True))
    return {key: draw(KEYS[key] | wrong | wild if odd else KEYS[key]) for key in chosen}


GENAI = [key for key in KEYS if key.startswith("gen_ai.")]
OTHERS = [key for key in KEYS if not key.startswith("gen_ai.")]


def any_value(value: Any) -> AnyValue:
    if value is None:  # no value at all
        return AnyValue()
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
    return AnyValue(kvlist_value=KeyValueList(values=key_values(value)))


def key_values(found: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=key, value=any_value(value)) for key, value in found.items()]


@st.composite
def spans(draw: st.DrawFn, odd: bool) -> Span:
    """A span, usually a GenAI one; with `odd`, its ids, times or values may be wrong."""
    number = draw(st.integers(min_value=1, max_value=2**20))
    start = START_NS + number * 10**6
    end = start + 812_500_000
    trace_id, span_id = number.to_bytes(16, "big"), number.to_bytes(8, "big")
    if odd:
        start = draw(st.sampled_from([start, 0, 2**64 - 10**9]))
        end = draw(st.sampled_from([start + 812_500_000, 0, start - 1]))
        trace_id = draw(st.sampled_from([trace_id, bytes(16), b"\x01" * 8]))
        span_id = draw(st.sampled_from([span_id, bytes(8)]))
    events = draw(
        st.lists(
            st.sampled_from(
                [
                    Span.Event(
                        name="exception",
                        attributes=key_values({"exception.type": "TimeoutError"}),
                    ),
                    Span.Event(
                        name="gen_ai.evaluation.result",
                        attributes=key_values(
                            {"gen_ai.evaluation.name": "tone", "gen_ai.evaluation.score.value": 1}
                        ),
                    ),
                    Span.Event(name="gen_ai.user.message", attributes=key_values({"content": "q"})),
                ]
            ),
            max_size=1,
        )
        | st.just([])
        | st.just([])
    )
    found = draw(attributes(GENAI, 6, odd)) if draw(st.integers(0, 9)) else {}
    found |= draw(attributes(OTHERS, 4, odd))
    return Span(
        trace_id=trace_id,
        span_id=span_id,
        name="chat",
        start_time_unix_nano=max(start, 0),
        end_time_unix_nano=min(max(end, 0), 2**64 - 1),
        attributes=key_values(found),
        status=Status(code=draw(st.sampled_from([0, 1, 2]))),
        events=events,
    )


@st.composite
def exports(draw: st.DrawFn) -> ExportTraceServiceRequest:
    """An export of a few resources' spans: half the time all of the usual kind."""
    odd = draw(st.booleans())
    resources = draw(
        st.lists(
            st.tuples(
                st.sampled_from([{"service.name": "support-bot"}, {"service.name": "search"}])
                | attributes(OTHERS, 3, odd),
                st.lists(spans(odd), max_size=6),
            ),
            min_size=1,
            max_size=3,
        )
    )
    return ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=key_values(resource)),
                scope_spans=[ScopeSpans(spans=found)],
            )
            for resource, found in resources
        ]
    )


def same(fast: SpanBatch, reference: SpanBatch) -> None:
    assert fast.columns == reference.columns
    assert (fast.spans, fast.dropped, fast.rejected) == (
        reference.spans,
        reference.dropped,
        reference.rejected,
    )
    assert (fast.problems, fast.warnings) == (reference.problems, reference.warnings)
    assert fast.calls == reference.calls


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exports(), st.booleans())
def test_any_export_maps_as_it_does_span_by_span(
    export: ExportTraceServiceRequest, keep: bool
) -> None:
    same(
        spans_to_calls(export, keep_non_genai=keep),
        spans_to_calls_one_by_one(export, keep_non_genai=keep),
    )


def plain(number: int, **extra: Any) -> Span:
    found = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 12.0,
        "gen_ai.response.finish_reasons": ["stop", "length"],
        "user.id": f"user-{number}",
        "server.address": "api.example.com",
        **extra,
    }
    return Span(
        trace_id=number.to_bytes(16, "big"),
        span_id=number.to_bytes(8, "big"),
        start_time_unix_nano=START_NS + number,
        end_time_unix_nano=START_NS + number + 10**9,
        attributes=key_values(found),
    )


def export_of(*found: Span, resource: dict[str, Any] | None = None) -> ExportTraceServiceRequest:
    given_resource = {"service.name": "support-bot"} if resource is None else resource
    return ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=key_values(given_resource)),
                scope_spans=[ScopeSpans(spans=list(found))],
            )
        ]
    )


def test_the_usual_export_is_mapped_column_by_column() -> None:
    export = export_of(
        plain(1),
        plain(2, **{"error.type": 503}),
        plain(3, **{"gen_ai.input.messages": MESSAGES, "gen_ai.output.messages": ANSWER}),
        Span(name="GET /", trace_id=b"\x02" * 16, span_id=b"\x02" * 8),  # not GenAI: dropped
    )
    found = span_columns(export)
    assert found is not None
    columns, spans_seen, dropped = found
    assert (spans_seen, dropped, len(columns["call_id"])) == (4, 1, 3)
    assert columns["input_tokens"] == [12, 12, 12]
    assert columns["finish_reason"] == ["stop", "stop", "stop"]
    assert columns["error_type"] == [None, "503", None]
    assert columns["input_text"] == [None, None, "hi 42"]
    same(spans_to_calls(export), spans_to_calls_one_by_one(export))


@pytest.mark.parametrize(
    "odd",
    [
        Span(trace_id=bytes(16), span_id=b"\x01" * 8, start_time_unix_nano=1),  # refused
        plain(9, **{"gen_ai.usage.output_tokens": -1}),  # an optional field is invalid
    ],
)
def test_an_unusual_span_is_left_to_the_span_by_span_mapping(odd: Span) -> None:
    odd.attributes.extend(key_values({"gen_ai.operation.name": "chat"}))
    export = export_of(plain(1), odd)
    assert span_columns(export) is None
    batch = spans_to_calls(export)
    assert batch.rejected or batch.warnings
    same(batch, spans_to_calls_one_by_one(export))


def test_spans_without_a_feature_are_rejected_as_before() -> None:
    export = export_of(plain(1), resource={})
    assert span_columns(export) is None
    assert spans_to_calls(export).rejected == 1


def test_an_export_of_spans_that_are_all_dropped_has_no_calls() -> None:
    export = export_of(Span(name="GET /", trace_id=b"\x02" * 16, span_id=b"\x02" * 8))
    batch = spans_to_calls(export)
    assert (batch.spans, batch.dropped, batch.calls) == (1, 1, [])
    same(batch, spans_to_calls_one_by_one(export))
