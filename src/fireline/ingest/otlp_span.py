"""One OpenTelemetry GenAI span as a raw call (the /v1/calls wire format), and the plan
that says which of its attributes become which fields.

`fireline.ingest.otlp` validates what is made here, span by span when it must;
`fireline.ingest.otlp_columns` makes the same fields column by column for whole requests.
docs/otlp.md has the mapping's full table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from fireline.ingest.otlp_content import attribute_values, content

#: Most entries kept in a call's `attributes` (what `CallIn` accepts).
MAX_ATTRIBUTES = 64
#: Longest string value kept in `attributes`; longer ones are cut to this length.
MAX_ATTRIBUTE_CHARS = 1024
#: Longest attribute key kept in `attributes` (a `Name`).
MAX_ATTRIBUTE_KEY_CHARS = 200

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

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
# The attributes `content` reads (those of `_INDEXED` too): a span with none of them, and no
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
# The attributes time_to_first_token_ms may come from.
_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
_TTFT_MS = "fireline.time_to_first_token_ms"

_EVALUATION_EVENT = "gen_ai.evaluation.result"


def is_genai(attributes: Mapping[str, Any]) -> bool:
    return any(key.startswith("gen_ai.") for key in attributes)


# What `span_row` takes from attributes: each field, the attributes it may come from (the
# first one a span has wins), and whether the resource's attribute of that name may stand in.
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
SPAN_SOURCES = {
    "call_id": "span ids",
    "trace_id": "traceId",
    "span_id": "spanId",
    "time": "startTimeUnixNano",
    "latency_ms": "endTimeUnixNano",
}


def refusal(span: Span) -> str | None:
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


def span_row(
    span: Span,
    attributes: Mapping[str, Any],
    resource: Mapping[str, Any],
    plan: Plan,
) -> tuple[dict[str, Any], dict[str, str]]:
    """The span as a raw call, and the attribute each field came from (for problems).
    `plan` is `plan_for` the span's attributes and resource."""
    trace_hex, span_hex = span.trace_id.hex(), span.span_id.hex()
    start, end = span.start_time_unix_nano, span.end_time_unix_nano
    fields: dict[str, Any] = {
        "call_id": f"{trace_hex}-{span_hex}",
        "trace_id": trace_hex,
        "span_id": span_hex,
        "time": EPOCH + timedelta(microseconds=start // 1000),
        "latency_ms": (end - start) / 1e6,
    }
    sources = dict(SPAN_SOURCES)
    row = _Row(attributes, resource, fields, sources)
    events = span.events
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

    chunk = attributes.get(_FIRST_CHUNK)
    if isinstance(chunk, int | float) and not isinstance(chunk, bool):  # seconds
        row.put("time_to_first_token_ms", chunk * 1000, _FIRST_CHUNK)
    else:
        row.take("time_to_first_token_ms", _TTFT_MS, fallback=True)

    _status(span.status.code, events, row)
    if events or plan.content:  # else there is none
        input_text, output_text, reason = content(events, attributes)
        row.put("input_text", input_text, "gen_ai.input.messages")
        row.put("output_text", output_text, "gen_ai.output.messages")
        if "finish_reason" not in row.fields:
            row.put("finish_reason", reason, "gen_ai.output.messages")
    if events or plan.evaluation:  # else there is none
        _evaluations(events, row)
    row.put("attributes", other_attributes(attributes, plan), "span attributes")
    return row.fields, row.sources


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _status(code: int, events: Sequence[Span.Event], row: _Row) -> None:
    """ERROR status (or UNSET with `error.type`) is a failed call; OK always succeeded."""
    error_type = row.attributes.get("error.type")
    if is_number(error_type):
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


def other_attributes(
    attributes: Mapping[str, Any], plan: Plan
) -> dict[str, str | int | float | bool]:
    """The span's other scalar attributes, bounded: the first 64, strings cut at 1024 chars.
    `plan.others` are the keys that may be kept, and their names."""
    kept: dict[str, str | int | float | bool] = {}
    if plan.few_others:  # neither the count nor a repeated name can matter: fewer checks
        for key, name in plan.others:
            value = attributes[key]
            if isinstance(value, str):
                kept[name] = value[:MAX_ATTRIBUTE_CHARS]
            elif isinstance(value, bool | int) or (
                isinstance(value, float) and math.isfinite(value)
            ):
                kept[name] = value
        return kept
    for key, name in plan.others:
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


@dataclass(frozen=True, slots=True, eq=False)  # one per set of keys: the same by identity
class Plan:
    """What `span_row` reads from a span, which depends on its attributes' keys (and on the
    resource's) only, so spans of one instrumentation share it.

    `takes`: each field found, the attribute it comes from, whether it is the resource's, and
    where it is said to come from. `others`: the attributes that may be kept in `attributes`,
    and their names; `few_others`: at most 64 of them, no name twice. `content`: whether an
    attribute may hold content (see `content`). `evaluation`: whether any `fireline.eval.*`
    attribute is there, on the span or resource. `plain`: neither that nor an attribute
    time_to_first_token_ms comes from, so that, for a span without events, only `takes`,
    the status, `content` and `others` make the call (see `fireline.ingest.otlp_columns`).
    `genai`: a `gen_ai.*` attribute is there.
    """

    takes: tuple[tuple[str, str, bool, str], ...]
    others: tuple[tuple[str, str], ...]
    few_others: bool
    content: bool
    evaluation: bool
    plain: bool
    genai: bool


_PLANS: dict[tuple[tuple[str, ...], tuple[str, ...]], Plan] = {}
_MAX_PLANS = 256


def plan_for(
    attributes: Mapping[str, Any], resource: Mapping[str, Any], resource_keys: tuple[str, ...]
) -> Plan:
    """The plan for a span with these attributes, made once for each set of keys."""
    keys = (tuple(attributes), resource_keys)
    plan = _PLANS.get(keys)
    if plan is None:
        if len(_PLANS) >= _MAX_PLANS:
            _PLANS.clear()
        plan = _PLANS[keys] = _make_plan(attributes, resource)
    return plan


def genai_plan(
    attributes: Mapping[str, Any], resource: Mapping[str, Any], resource_keys: tuple[str, ...]
) -> Plan | None:
    """`plan_for` a GenAI span; None for other spans, which are dropped (and, as they are
    many in apps that export every span, make no plans to crowd out those of GenAI spans)."""
    plan = _PLANS.get((tuple(attributes), resource_keys))
    if plan is None:
        if not is_genai(attributes):
            return None
        return plan_for(attributes, resource, resource_keys)
    return plan if plan.genai else None


def _make_plan(attributes: Mapping[str, Any], resource: Mapping[str, Any]) -> Plan:
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
    few_others = len(others) <= MAX_ATTRIBUTES and len({name for _, name in others}) == len(others)
    first_token = any(key in attributes for key in (_FIRST_CHUNK, _TTFT_MS))
    first_token = first_token or _TTFT_MS in resource
    plain = not (evaluation or first_token)
    return Plan(
        tuple(takes), tuple(others), few_others, content, evaluation, plain, is_genai(attributes)
    )
