"""OpenTelemetry GenAI spans → calls: the pure mapping behind `POST /v1/traces`.

One span becomes one call. The mapping follows the OpenTelemetry GenAI semantic conventions
(current names first, the older names as fallbacks) and fireline's own `fireline.*`
attributes; docs/otlp.md has the full table. Validation is `parse_calls`, the same rules as
`POST /v1/calls`, applied span by span: unlike a batch of calls, an OTLP request is stored
in part when some of its spans are invalid, and the answer says how many were rejected.

The usual request, every span valid, is mapped column by column
(`fireline.ingest.otlp_columns`); any other is mapped here a span at a time
(`fireline.ingest.otlp_span`), which finds the same calls and says what was wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from fireline.domain.telemetry import Call
from fireline.errors import InvalidInput, Problem
from fireline.ingest.otlp_columns import span_columns
from fireline.ingest.otlp_content import attribute_values
from fireline.ingest.otlp_span import (
    MAX_ATTRIBUTE_CHARS,
    MAX_ATTRIBUTE_KEY_CHARS,
    MAX_ATTRIBUTES,
    Plan,
    genai_plan,
    plan_for,
    refusal,
    span_row,
)
from fireline.ingest.schema import (
    MAX_PROBLEMS,
    calls_from_columns,
    columns_of,
    parse_calls,
    validate_calls,
)

__all__ = [
    "MAX_ATTRIBUTES",
    "MAX_ATTRIBUTE_CHARS",
    "MAX_ATTRIBUTE_KEY_CHARS",
    "SpanBatch",
    "count_spans",
    "spans_to_calls",
]

# Fields a call cannot be stored without: a problem there rejects the span. A problem in
# any other field drops that field only, and the answer's error_message says so.
_REQUIRED = frozenset({"call_id", "time", "feature", "trace_id", "span_id", "latency_ms"})


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
    usual = span_columns(request, keep_non_genai=keep_non_genai)
    if usual is not None:  # every span valid, mapped column by column
        columns, spans, dropped = usual
        return SpanBatch(columns=columns, spans=spans, dropped=dropped)
    return spans_to_calls_one_by_one(request, keep_non_genai=keep_non_genai)


def spans_to_calls_one_by_one(
    request: ExportTraceServiceRequest, *, keep_non_genai: bool = False
) -> SpanBatch:
    """`spans_to_calls`, a span at a time: what it does when some span is not valid, and
    the reference that its column-wise mapping must agree with."""
    mapped: list[_Mapped] = []
    number = 0
    for resource_spans in request.resource_spans:
        resource = attribute_values(resource_spans.resource.attributes)
        resource_keys = tuple(resource)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                number += 1
                attributes = attribute_values(span.attributes)
                if keep_non_genai:
                    plan: Plan | None = plan_for(attributes, resource, resource_keys)
                else:
                    plan = genai_plan(attributes, resource, resource_keys)
                if plan is None:
                    mapped.append(None)
                    continue
                refused = refusal(span)
                if refused is not None:
                    mapped.append(Problem(number, None, refused, "span"))
                else:
                    mapped.append((number, *span_row(span, attributes, resource, plan)))
    candidates = [entry for entry in mapped if isinstance(entry, tuple)]
    rows = [(n, row) for n, row, _ in candidates]
    try:  # the spans not refused all valid: validated at once
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
