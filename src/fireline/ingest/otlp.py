"""OpenTelemetry GenAI spans → calls: the pure mapping behind `POST /v1/traces`.

One span becomes one call. The mapping follows the OpenTelemetry GenAI semantic conventions
(current names first, the older names as fallbacks) and fireline's own `fireline.*`
attributes; docs/otlp.md has the full table. Validation is `parse_calls`, the same rules as
`POST /v1/calls`, applied span by span: unlike a batch of calls, an OTLP request is stored
in part when some of its spans are invalid, and the answer says how many were rejected.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from fireline.domain.telemetry import Call
from fireline.errors import InvalidInput, Problem
from fireline.ingest.otlp_content import attribute_values, content
from fireline.ingest.schema import (
    MAX_PROBLEMS,
    calls_from_columns,
    columns_of,
    parse_calls,
    validate_calls,
)

#: Most entries kept in a call's `attributes` (what `CallIn` accepts).
MAX_ATTRIBUTES = 64
#: Longest string value kept in `attributes`; longer ones are cut to this length.
MAX_ATTRIBUTE_CHARS = 1024
#: Longest attribute key kept in `attributes` (a `Name`).
MAX_ATTRIBUTE_KEY_CHARS = 200

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Fields a call cannot be stored without: a problem there rejects the span. A problem in
# any other field drops that field only, and the answer's error_message says so.
_REQUIRED = frozenset({"call_id", "time", "feature", "trace_id", "span_id", "latency_ms"})

# Span attributes the mapping reads; they are not copied into `attributes` again.
_MAPPED = frozenset(
    {
        "gen_ai.operation.name",
        "gen_ai.provider.name",
        "gen_ai.system",
        "gen_ai.request.model",
        "gen_ai.response.model",
        "gen_ai.response.id",
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.prompt_tokens",
        "gen_ai.usage.completion_tokens",
        "gen_ai.response.finish_reasons",
        "gen_ai.response.time_to_first_chunk",
        "gen_ai.conversation.id",
        "session.id",
        "error.type",
        "user.id",
        "enduser.id",
        "fireline.feature",
        "fireline.tenant",
        "fireline.user",
        "fireline.model_version",
        "fireline.prompt_version",
        "fireline.index_version",
        "fireline.retrieved_doc_ids",
        "fireline.cited_doc_ids",
        "fireline.cost_usd",
        "fireline.time_to_first_token_ms",
    }
)
# Content (prompts, completions, tool payloads): only ever stored as input/output text.
_CONTENT = frozenset(
    {
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "gen_ai.tool.definitions",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
        "gen_ai.retrieval.query.text",
        "gen_ai.retrieval.documents",
        "gen_ai.prompt",
        "gen_ai.completion",
    }
)
_SKIPPED_PREFIXES = ("fireline.eval.", "gen_ai.prompt.", "gen_ai.completion.")
# The attributes `_content` reads (those of `_INDEXED` too): a span with none of them, and no
# events, has no content.
_CONTENT_KEYS = frozenset(
    {
        "gen_ai.system_instructions",
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.prompt",
        "gen_ai.completion",
    }
)
_INDEXED_PREFIXES = ("gen_ai.prompt.", "gen_ai.completion.")

_EVALUATION_EVENT = "gen_ai.evaluation.result"


@dataclass(frozen=True)
class SpanBatch:
    """What one OTLP request became.

    `columns` are its calls column by column (as `validate_calls` gives them, what
    `IngestService.ingest_columns` stores); `calls` are the same as `Call`s.
    `dropped` spans carried no GenAI attribute and were left out on purpose (not an error);
    `rejected` spans could not become a valid call, for the reasons in `problems`;
    `warnings` name fields dropped from calls that were stored anyway.
    Both lists hold at most MAX_PROBLEMS entries; the counts are exact.
    """

    columns: dict[str, list[Any]]
    spans: int
    dropped: int = 0
    rejected: int = 0
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @cached_property
    def calls(self) -> list[Call]:
        """The calls, made from `columns` when first asked for."""
        return calls_from_columns(self.columns)

    def error_message(self) -> str:
        """The partial-success message: why spans were rejected, which fields were dropped."""
        parts = []
        if self.rejected:
            reasons = "; ".join(str(problem) for problem in self.problems)
            parts.append(f"{self.rejected} of {self.spans} spans rejected: {reasons}")
        if self.warnings:
            dropped = "; ".join(str(problem) for problem in self.warnings)
            parts.append(f"fields left out of stored calls: {dropped}")
        return ". ".join(parts)


def count_spans(request: ExportTraceServiceRequest) -> int:
    """How many spans a request holds."""
    return sum(
        len(scope.spans) for resource in request.resource_spans for scope in resource.scope_spans
    )


#: A span's call (or None if it was rejected), its problems, and the fields left out of it.
_Outcome = tuple[Call | None, list[Problem], list[Problem]]
#: A span read: None if dropped, a Problem if refused, else its number, raw call and sources.
_Mapped = Problem | tuple[int, dict[str, Any], dict[str, str]] | None


def spans_to_calls(
    request: ExportTraceServiceRequest, *, keep_non_genai: bool = False
) -> SpanBatch:
    """Map every span of a decoded OTLP trace export to a call.

    Spans without any `gen_ai.*` attribute are dropped (and counted) unless
    `keep_non_genai`. Spans are numbered from 1 in request order in problems.
    """
    mapped: list[_Mapped] = []
    number = 0
    for resource_spans in request.resource_spans:
        resource = attribute_values(resource_spans.resource.attributes)
        resource_keys = tuple(resource)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                number += 1
                attributes = attribute_values(span.attributes)
                if not keep_non_genai and not _is_genai(attributes):
                    mapped.append(None)
                    continue
                refusal = _refusal(span)
                if refusal is not None:
                    mapped.append(Problem(number, None, refusal, "span"))
                else:
                    mapped.append((number, *_row(span, attributes, resource, resource_keys)))
    candidates = [entry for entry in mapped if isinstance(entry, tuple)]
    rows = [(n, row) for n, row, _ in candidates]
    try:  # the usual request, all valid: validated at once
        columns = validate_calls(rows, max_rows=None, row_label="span")
    except InvalidInput:  # span by span, to store what can be stored
        return _batch(number, mapped, [_validated_span(*candidate) for candidate in candidates])
    return _batch(number, mapped, None, columns)


def _batch(
    spans: int,
    mapped: list[_Mapped],
    outcomes: list[_Outcome] | None,
    columns: dict[str, list[Any]] | None = None,
) -> SpanBatch:
    """The batch, from spans' outcomes (or, when all were valid, their columns)."""
    calls: list[Call] = []
    problems: list[Problem] = []
    warnings: list[Problem] = []
    dropped = rejected = 0
    validated = iter(outcomes or ())
    for entry in mapped:
        if entry is None:
            dropped += 1
        elif isinstance(entry, Problem):
            rejected += 1
            problems.append(entry)
        elif outcomes is not None:
            call, span_problems, span_warnings = next(validated)
            if call is None:
                rejected += 1
                problems.extend(span_problems)
            else:
                calls.append(call)
            warnings.extend(span_warnings)
    return SpanBatch(
        columns=columns_of(calls) if columns is None else columns,
        spans=spans,
        dropped=dropped,
        rejected=rejected,
        problems=problems[:MAX_PROBLEMS],
        warnings=warnings[:MAX_PROBLEMS],
    )


def _is_genai(attributes: Mapping[str, Any]) -> bool:
    return any(key.startswith("gen_ai.") for key in attributes)


# ---------------------------------------------------------------- one span


def _refusal(span: Span) -> str | None:
    """Why a span cannot be a call whatever its attributes, if it cannot."""
    trace_id, span_id = span.trace_id, span.span_id
    if len(trace_id) != 16 or not any(trace_id):
        return "trace_id must be 16 bytes, not all zero"
    if len(span_id) != 8 or not any(span_id):
        return "span_id must be 8 bytes, not all zero"
    start, end = span.start_time_unix_nano, span.end_time_unix_nano
    if start == 0:
        return "span has no start time"
    if end == 0:
        return "span has no end time"
    if end < start:
        return "span ends before it starts"
    return None


def _validated_span(number: int, row: dict[str, Any], sources: dict[str, str]) -> _Outcome:
    """The span's call; or, if only optional fields are wrong, its call without them (and
    warnings naming them); or the problems that reject it."""
    try:
        return _validated(number, row), [], []
    except InvalidInput as error:
        found = [_named(problem, sources) for problem in error.problems]
        bad = {problem.field.split(".")[0] for problem in error.problems if problem.field}
    if not bad or bad & _REQUIRED:
        return None, found, []
    # Only optional fields are wrong: store the call without them.
    try:
        return _validated(number, {k: v for k, v in row.items() if k not in bad}), [], found
    except InvalidInput as again:
        return None, [_named(problem, sources) for problem in again.problems], []


def _validated(number: int, row: dict[str, Any]) -> Call:
    calls = parse_calls([(number, row)], max_rows=None, row_label="span")
    return calls[0]


def _named(problem: Problem, sources: Mapping[str, str]) -> Problem:
    """The problem with the call field replaced by the OTel attribute it came from."""
    if problem.field is None:
        return problem
    top, _, rest = problem.field.partition(".")
    source = sources.get(top)
    if source is None:
        return problem
    if top == "eval_scores" and rest:
        source = sources.get(f"eval_scores.{rest}", f"{source}.{rest}")
    elif rest:
        source = f"{source}.{rest}"
    return Problem(problem.row, source, problem.message, problem.row_label)


# What `_row` takes from attributes: each field, the attributes it may come from (the first
# one a span has wins), and whether the resource's attribute of the same name may stand in.
_TAKEN: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    ("feature", ("fireline.feature", "service.name"), True),
    ("tenant", ("fireline.tenant",), True),
    ("user", ("fireline.user", "user.id", "enduser.id"), True),
    ("model_version", ("fireline.model_version",), True),
    ("prompt_version", ("fireline.prompt_version",), True),
    ("index_version", ("fireline.index_version",), True),
    ("retrieved_doc_ids", ("fireline.retrieved_doc_ids",), True),
    ("cited_doc_ids", ("fireline.cited_doc_ids",), True),
    ("cost_usd", ("fireline.cost_usd",), True),
    ("operation", ("gen_ai.operation.name",), False),
    ("provider", ("gen_ai.provider.name", "gen_ai.system"), False),
    ("request_model", ("gen_ai.request.model",), False),
    ("model", ("gen_ai.response.model", "gen_ai.request.model"), False),
    ("response_id", ("gen_ai.response.id",), False),
    ("session_id", ("gen_ai.conversation.id", "session.id"), False),
    ("input_tokens", ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"), False),
    ("output_tokens", ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"), False),
    ("finish_reason", ("gen_ai.response.finish_reasons",), False),
)


# Where the fields that every span has come from.
_SPAN_SOURCES = {
    "call_id": "span ids",
    "trace_id": "traceId",
    "span_id": "spanId",
    "time": "startTimeUnixNano",
    "latency_ms": "endTimeUnixNano",
}


class _Row:
    """A raw call (the /v1/calls wire format) being built, and where each field came from."""

    __slots__ = ("attributes", "fields", "resource", "sources")

    def __init__(
        self,
        attributes: Mapping[str, Any],
        resource: Mapping[str, Any],
        fields: dict[str, Any],
        sources: dict[str, str],
    ) -> None:
        self.attributes = attributes
        self.resource = resource
        self.fields = fields
        self.sources = sources

    def put(self, name: str, value: Any, source: str) -> None:
        if value is not None:
            self.fields[name] = value
            self.sources[name] = source

    def take(self, name: str, *keys: str, fallback: bool = False) -> Any:
        """The first of `keys` on the span (then, with `fallback`, on the resource)."""
        for key in keys:
            if key in self.attributes:
                value = self.attributes[key]
                source = key
            elif fallback and key in self.resource:
                value = self.resource[key]
                source = f"resource {key}"
            else:
                continue
            if value is not None:
                self.fields[name] = value
                self.sources[name] = source
            return value
        return None


def _row(
    span: Span,
    attributes: Mapping[str, Any],
    resource: Mapping[str, Any],
    resource_keys: tuple[str, ...],
) -> tuple[dict[str, Any], dict[str, str]]:
    """The span as a raw call, and the attribute each field came from (for problems)."""
    trace_hex, span_hex = span.trace_id.hex(), span.span_id.hex()
    start, end = span.start_time_unix_nano, span.end_time_unix_nano
    fields: dict[str, Any] = {
        "call_id": f"{trace_hex}-{span_hex}",
        "trace_id": trace_hex,
        "span_id": span_hex,
        "time": _EPOCH + timedelta(microseconds=start // 1000),
        "latency_ms": (end - start) / 1e6,
    }
    sources = dict(_SPAN_SOURCES)
    row = _Row(attributes, resource, fields, sources)
    events = span.events
    plan = _plan(attributes, resource, resource_keys)
    for name, key, on_resource, source in plan.takes:
        value = resource[key] if on_resource else attributes[key]
        if value is not None:
            fields[name] = value
            sources[name] = source
    for name in ("input_tokens", "output_tokens"):
        tokens = fields.get(name)
        if isinstance(tokens, float) and tokens.is_integer():
            fields[name] = int(tokens)  # SDKs of languages without integers send doubles
    reasons = fields.get("finish_reason")
    if isinstance(reasons, list):  # one per choice: the first choice's is kept
        del fields["finish_reason"]
        row.put("finish_reason", reasons[0] if reasons else None, sources["finish_reason"])

    chunk = attributes.get("gen_ai.response.time_to_first_chunk")
    if isinstance(chunk, int | float) and not isinstance(chunk, bool):  # seconds
        row.put("time_to_first_token_ms", chunk * 1000, "gen_ai.response.time_to_first_chunk")
    else:
        row.take("time_to_first_token_ms", "fireline.time_to_first_token_ms", fallback=True)

    _status(span.status.code, events, row)
    if events or plan.content:  # else there is none
        input_text, output_text, reason = content(events, attributes)
        row.put("input_text", input_text, "gen_ai.input.messages")
        row.put("output_text", output_text, "gen_ai.output.messages")
        if "finish_reason" not in row.fields:
            row.put("finish_reason", reason, "gen_ai.output.messages")
    if events or plan.evaluation:  # else there is none
        _evaluations(events, row)
    row.put("attributes", _other_attributes(attributes, plan.others), "span attributes")
    return row.fields, row.sources


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _status(code: int, events: Sequence[Span.Event], row: _Row) -> None:
    """ERROR status (or UNSET with `error.type`) is a failed call; OK always succeeded."""
    error_type = row.attributes.get("error.type")
    if _is_number(error_type):
        error_type = str(error_type)  # an HTTP status code sent as a number
    failed = code == Status.STATUS_CODE_ERROR or (
        code == Status.STATUS_CODE_UNSET and error_type is not None
    )
    row.put("status", "error" if failed else "ok", "status")
    if not failed:
        return
    if error_type is not None:
        row.put("error_type", error_type, "error.type")
        return
    for event in events:
        if event.name == "exception":
            exception_type = attribute_values(event.attributes).get("exception.type")
            if isinstance(exception_type, str) and exception_type.strip():
                row.put("error_type", exception_type, "exception event exception.type")
                return
    row.put("error_type", "error", "status")


def _evaluations(events: Sequence[Span.Event], row: _Row) -> None:
    """`gen_ai.evaluation.result` span events, then `fireline.eval.<name>` attributes."""
    scores: dict[str, Any] = {}
    for event in events:
        if event.name != _EVALUATION_EVENT:
            continue
        found = attribute_values(event.attributes)
        name = found.get("gen_ai.evaluation.name")
        score = found.get("gen_ai.evaluation.score.value")
        if isinstance(name, str) and name and score is not None:
            scores[name] = score
            row.sources[f"eval_scores.{name}"] = f"{_EVALUATION_EVENT} event '{name}'"
    for origin, label in ((row.resource, "resource "), (row.attributes, "")):  # span wins
        for key in [key for key in origin if key.startswith("fireline.eval.")]:
            name = key.removeprefix("fireline.eval.")
            if name:
                scores[name] = origin[key]
                row.sources[f"eval_scores.{name}"] = f"{label}{key}"
    row.put("eval_scores", scores or None, "fireline.eval.*")


def _other_attributes(
    attributes: Mapping[str, Any], candidates: tuple[tuple[str, str], ...]
) -> dict[str, str | int | float | bool]:
    """The span's other scalar attributes, bounded: the first 64, strings cut at 1024 chars.
    `candidates` are the keys that may be kept, and their names (see `_Plan`)."""
    kept: dict[str, str | int | float | bool] = {}
    for key, name in candidates:
        if len(kept) >= MAX_ATTRIBUTES:
            break
        if name in kept:
            continue
        value = attributes[key]
        if isinstance(value, str):
            kept[name] = value[:MAX_ATTRIBUTE_CHARS]
        elif isinstance(value, bool | int) or (isinstance(value, float) and math.isfinite(value)):
            kept[name] = value
    return kept


@dataclass(frozen=True, slots=True)
class _Plan:
    """What `_row` reads from a span, which depends on its attributes' keys (and on the
    resource's) only, so spans of one instrumentation share it.

    `takes`: each field found, the attribute it comes from, whether it is the resource's, and
    where it is said to come from. `others`: the attributes that may be kept in `attributes`,
    and their names. `content`: whether an attribute may hold content (see `_content`).
    `evaluation`: whether any `fireline.eval.*` attribute is there, on the span or resource.
    """

    takes: tuple[tuple[str, str, bool, str], ...]
    others: tuple[tuple[str, str], ...]
    content: bool
    evaluation: bool


_PLANS: dict[tuple[tuple[str, ...], tuple[str, ...]], _Plan] = {}
_MAX_PLANS = 256


def _plan(
    attributes: Mapping[str, Any], resource: Mapping[str, Any], resource_keys: tuple[str, ...]
) -> _Plan:
    """The plan for a span with these attributes, made once for each set of keys."""
    keys = (tuple(attributes), resource_keys)
    plan = _PLANS.get(keys)
    if plan is None:
        if len(_PLANS) >= _MAX_PLANS:
            _PLANS.clear()
        plan = _PLANS[keys] = _make_plan(attributes, resource)
    return plan


def _make_plan(attributes: Mapping[str, Any], resource: Mapping[str, Any]) -> _Plan:
    takes = []
    for name, keys, fallback in _TAKEN:  # the first of `keys` on the span, then the resource
        for key in keys:
            if key in attributes:
                takes.append((name, key, False, key))
                break
            if fallback and key in resource:
                takes.append((name, key, True, f"resource {key}"))
                break
    others = []
    content = False
    evaluation = any(key.startswith("fireline.eval.") for key in resource)
    for key in attributes:
        if key in _MAPPED:
            continue
        if key in _CONTENT or key.startswith(_SKIPPED_PREFIXES):
            content = content or key in _CONTENT_KEYS or key.startswith(_INDEXED_PREFIXES)
            evaluation = evaluation or key.startswith("fireline.eval.")
            continue
        name = key.strip()
        if name and len(name) <= MAX_ATTRIBUTE_KEY_CHARS:
            others.append((key, name))
    return _Plan(tuple(takes), tuple(others), content, evaluation)
