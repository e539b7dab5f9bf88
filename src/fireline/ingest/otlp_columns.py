"""The usual OTLP export, every span valid, mapped straight to call columns.

`fireline.ingest.otlp.spans_to_calls` maps span by span into raw calls (dicts), then
validates them; at tens of thousands of spans a second, making a dict per span and reading
every field back out of it was a quarter of the receiver's time. Here the spans of one
request are read once, and spans that share a `Plan` (an instrumentation's spans do) are
mapped together, a field at a time, into the columns that `validate_calls` would have
given: the same fields, validated by the same column validators. Anything unusual (a
refused span, an invalid value) gives None, and the span-by-span mapping then finds the
same calls and says what was wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from fireline.ingest.otlp_content import attribute_values, content
from fireline.ingest.otlp_span import (
    EPOCH,
    Plan,
    genai_plan,
    is_number,
    other_attributes,
    plan_for,
    span_row,
)
from fireline.ingest.schema import ABSENT, checked_columns

Columns = dict[str, list[Any]]

# Made here from the span's own fields, always valid: not validated again.
_TRUSTED = frozenset({"call_id", "trace_id", "span_id", "time", "latency_ms"})
_ERROR, _UNSET = Status.STATUS_CODE_ERROR, Status.STATUS_CODE_UNSET
_NO_TRACE, _NO_SPAN = bytes(16), bytes(8)


def span_columns(
    request: ExportTraceServiceRequest, *, keep_non_genai: bool = False
) -> tuple[Columns, int, int] | None:
    """The calls of a request's spans column by column (as `validate_calls` gives them),
    its number of spans, and how many of them were dropped as not GenAI; or None if some
    span is refused or its call not valid."""
    spans = dropped = 0
    # Read from each span in one pass, the fields' values are made a column at a time after.
    trace_ids: list[bytes] = []
    span_ids: list[bytes] = []
    starts: list[int] = []
    ends: list[int] = []
    codes: list[int] = []
    kept: list[Mapping[str, Any]] = []  # each call's span attributes
    groups: dict[tuple[Plan, int], list[int]] = {}  # plain spans by plan and resource
    rows: list[tuple[int, dict[str, Any]]] = []  # other spans, mapped one by one
    resources: list[Mapping[str, Any]] = []
    for resource_spans in request.resource_spans:
        resource = attribute_values(resource_spans.resource.attributes)
        resource_keys = tuple(resource)
        resources.append(resource)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans += 1
                attributes = attribute_values(span.attributes)
                if keep_non_genai:
                    plan: Plan | None = plan_for(attributes, resource, resource_keys)
                else:
                    plan = genai_plan(attributes, resource, resource_keys)
                if plan is None:
                    dropped += 1
                    continue
                trace_id, span_id = span.trace_id, span.span_id
                start, end = span.start_time_unix_nano, span.end_time_unix_nano
                if (  # what `refusal` refuses, read once: the span-by-span mapping says why
                    len(trace_id) != 16
                    or len(span_id) != 8
                    or trace_id == _NO_TRACE
                    or span_id == _NO_SPAN
                    or start == 0
                    or end < start
                ):
                    return None
                index = len(starts)
                trace_ids.append(trace_id)
                span_ids.append(span_id)
                starts.append(start)
                ends.append(end)
                codes.append(span.status.code)
                kept.append(attributes)
                if span.events or not plan.plain:
                    rows.append((index, span_row(span, attributes, resource, plan)[0]))
                else:
                    groups.setdefault((plan, len(resources) - 1), []).append(index)
    count = len(starts)
    if not count:
        return {name: [] for name in ABSENT}, spans, dropped
    trace_hex = [trace_id.hex() for trace_id in trace_ids]
    span_hex = [span_id.hex() for span_id in span_ids]
    sent: Columns = {
        "call_id": [f"{t}-{s}" for t, s in zip(trace_hex, span_hex, strict=True)],
        "trace_id": trace_hex,
        "span_id": span_hex,
        "time": [EPOCH + timedelta(0, 0, start // 1000) for start in starts],
        "latency_ms": [(end - start) / 1e6 for start, end in zip(starts, ends, strict=True)],
        "status": ["ok"] * count,
    }
    for (plan, resource_index), members in groups.items():
        _map_plain(sent, count, plan, resources[resource_index], members, kept, codes)
    for index, row in rows:
        for name, value in row.items():
            _column(sent, name, count)[index] = value
    columns = checked_columns(sent, count, trusted=_TRUSTED)
    return None if columns is None else (columns, spans, dropped)


def _column(sent: Columns, name: str, count: int) -> list[Any]:
    """The column `name`, made with every call lacking the field if no call had it yet."""
    column = sent.get(name)
    if column is None:
        column = sent[name] = [ABSENT[name]] * count
    return column


def _map_plain(
    sent: Columns,
    count: int,
    plan: Plan,
    resource: Mapping[str, Any],
    members: list[int],
    kept: list[Mapping[str, Any]],
    codes: list[int],
) -> None:
    """What `span_row` makes of each of `members`, plain spans of one plan and resource,
    written into their places in the columns."""
    everyone = len(members) == count  # then each column is the group's values as they are
    found = kept if everyone else [kept[index] for index in members]

    def put(name: str, values: list[Any]) -> None:
        if everyone:
            sent[name] = values
        else:
            column = _column(sent, name, count)
            for index, value in zip(members, values, strict=True):
                column[index] = value

    reasons: list[Any] = [None] * len(members)
    for name, key, on_resource, _ in plan.takes:
        absent = ABSENT[name]
        if on_resource:
            value = resource[key]
            values = [absent if value is None else value] * len(members)
        else:
            values = [attributes[key] for attributes in found]
            if absent is not None and None in values:  # a field without a value is absent
                values = [absent if value is None else value for value in values]
        if name in ("input_tokens", "output_tokens"):  # SDKs without integers send doubles
            values = [
                int(value) if isinstance(value, float) and value.is_integer() else value
                for value in values
            ]
        elif name == "finish_reason":  # one per choice: the first choice's is kept
            values = [
                (value[0] if value else None) if isinstance(value, list) else value
                for value in values
            ]
            reasons = values
        put(name, values)
    if plan.content:  # prompts and answers (plain spans have no events to hold them)
        texts = [content((), attributes) for attributes in found]
        put("input_text", [input_text for input_text, _, _ in texts])
        put("output_text", [output_text for _, output_text, _ in texts])
        put(  # the finish reason of the answer, unless the span said which it was
            "finish_reason",
            [
                given if given is not None else reason
                for given, (_, _, reason) in zip(reasons, texts, strict=True)
            ],
        )
    statuses: list[str] = []
    error_types: list[Any] = []
    for index, attributes in zip(members, found, strict=True):
        error_type = attributes.get("error.type")
        if error_type is not None and is_number(error_type):
            error_type = str(error_type)  # an HTTP status code sent as a number
        code = codes[index]
        if code == _ERROR or (code == _UNSET and error_type is not None):
            statuses.append("error")
            error_types.append("error" if error_type is None else error_type)
        else:
            statuses.append("ok")
            error_types.append(None)
    put("status", statuses)
    if any(error_type is not None for error_type in error_types):
        put("error_type", error_types)
    put("attributes", [other_attributes(attributes, plan) for attributes in found])
