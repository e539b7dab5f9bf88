"""OpenTelemetry GenAI spans → calls: the pure mapping behind `POST /v1/traces`.

One span becomes one call. The mapping follows the OpenTelemetry GenAI semantic conventions
(current names first, the older names as fallbacks) and fireline's own `fireline.*`
attributes; docs/otlp.md has the full table. Validation is `parse_calls`, the same rules as
`POST /v1/calls`, applied span by span: unlike a batch of calls, an OTLP request is stored
in part when some of its spans are invalid, and the answer says how many were rejected.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from fireline.domain.telemetry import Call
from fireline.errors import InvalidInput, Problem
from fireline.ingest.schema import MAX_PROBLEMS, MAX_TEXT_CHARS, parse_calls

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

# Events of the GenAI conventions up to v1.36, as span events.
_MESSAGE_EVENTS = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
_CHOICE_EVENT = "gen_ai.choice"
_DETAILS_EVENT = "gen_ai.client.inference.operation.details"
_EVALUATION_EVENT = "gen_ai.evaluation.result"
_INDEXED = re.compile(r"^gen_ai\.(prompt|completion)\.(\d+)\.(role|content|finish_reason)$")


@dataclass(frozen=True, slots=True)
class SpanBatch:
    """What one OTLP request became.

    `dropped` spans carried no GenAI attribute and were left out on purpose (not an error);
    `rejected` spans could not become a valid call, for the reasons in `problems`;
    `warnings` name fields dropped from calls that were stored anyway.
    Both lists hold at most MAX_PROBLEMS entries; the counts are exact.
    """

    calls: list[Call]
    spans: int
    dropped: int = 0
    rejected: int = 0
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

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


def spans_to_calls(
    request: ExportTraceServiceRequest, *, keep_non_genai: bool = False
) -> SpanBatch:
    """Map every span of a decoded OTLP trace export to a call.

    Spans without any `gen_ai.*` attribute are dropped (and counted) unless
    `keep_non_genai`. Spans are numbered from 1 in request order in problems.
    """
    calls: list[Call] = []
    problems: list[Problem] = []
    warnings: list[Problem] = []
    number = dropped = rejected = 0
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                number += 1
                attributes = _attributes(span.attributes)
                if not keep_non_genai and not _is_genai(attributes):
                    dropped += 1
                    continue
                call, span_problems, span_warnings = _map_span(number, span, attributes, resource)
                if call is None:
                    rejected += 1
                    problems.extend(span_problems)
                else:
                    calls.append(call)
                warnings.extend(span_warnings)
    return SpanBatch(
        calls=calls,
        spans=number,
        dropped=dropped,
        rejected=rejected,
        problems=problems[:MAX_PROBLEMS],
        warnings=warnings[:MAX_PROBLEMS],
    )


def _is_genai(attributes: Mapping[str, Any]) -> bool:
    return any(key.startswith("gen_ai.") for key in attributes)


# ---------------------------------------------------------------- one span


def _map_span(
    number: int, span: Span, attributes: dict[str, Any], resource: dict[str, Any]
) -> tuple[Call | None, list[Problem], list[Problem]]:
    def refuse(message: str) -> tuple[None, list[Problem], list[Problem]]:
        return None, [Problem(number, None, message, "span")], []

    if len(span.trace_id) != 16 or not any(span.trace_id):
        return refuse("trace_id must be 16 bytes, not all zero")
    if len(span.span_id) != 8 or not any(span.span_id):
        return refuse("span_id must be 8 bytes, not all zero")
    if span.start_time_unix_nano == 0:
        return refuse("span has no start time")
    if span.end_time_unix_nano == 0:
        return refuse("span has no end time")
    if span.end_time_unix_nano < span.start_time_unix_nano:
        return refuse("span ends before it starts")

    row, sources = _row(span, attributes, resource)
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


class _Row:
    """A raw call (the /v1/calls wire format) being built, and where each field came from."""

    def __init__(self, attributes: Mapping[str, Any], resource: Mapping[str, Any]) -> None:
        self.attributes = attributes
        self.resource = resource
        self.fields: dict[str, Any] = {}
        self.sources: dict[str, str] = {}

    def put(self, name: str, value: Any, source: str) -> None:
        if value is not None:
            self.fields[name] = value
            self.sources[name] = source

    def take(self, name: str, *keys: str, fallback: bool = False) -> Any:
        """The first of `keys` on the span (then, with `fallback`, on the resource)."""
        for key in keys:
            if key in self.attributes:
                self.put(name, self.attributes[key], key)
                return self.attributes[key]
            if fallback and key in self.resource:
                self.put(name, self.resource[key], f"resource {key}")
                return self.resource[key]
        return None


def _row(
    span: Span, attributes: Mapping[str, Any], resource: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The span as a raw call, and the attribute each field came from (for problems)."""
    row = _Row(attributes, resource)
    trace_hex, span_hex = span.trace_id.hex(), span.span_id.hex()
    start, end = span.start_time_unix_nano, span.end_time_unix_nano
    row.put("call_id", f"{trace_hex}-{span_hex}", "span ids")
    row.put("trace_id", trace_hex, "traceId")
    row.put("span_id", span_hex, "spanId")
    row.put("time", _EPOCH + timedelta(microseconds=start // 1000), "startTimeUnixNano")
    row.put("latency_ms", (end - start) / 1e6, "endTimeUnixNano")

    row.take("feature", "fireline.feature", "service.name", fallback=True)
    row.take("tenant", "fireline.tenant", fallback=True)
    row.take("user", "fireline.user", "user.id", "enduser.id", fallback=True)
    row.take("model_version", "fireline.model_version", fallback=True)
    row.take("prompt_version", "fireline.prompt_version", fallback=True)
    row.take("index_version", "fireline.index_version", fallback=True)
    row.take("retrieved_doc_ids", "fireline.retrieved_doc_ids", fallback=True)
    row.take("cited_doc_ids", "fireline.cited_doc_ids", fallback=True)
    row.take("cost_usd", "fireline.cost_usd", fallback=True)

    row.take("operation", "gen_ai.operation.name")
    row.take("provider", "gen_ai.provider.name", "gen_ai.system")
    row.take("request_model", "gen_ai.request.model")
    row.take("model", "gen_ai.response.model", "gen_ai.request.model")
    row.take("response_id", "gen_ai.response.id")
    row.take("session_id", "gen_ai.conversation.id", "session.id")
    for name, keys in (
        ("input_tokens", ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")),
        ("output_tokens", ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")),
    ):
        tokens = row.take(name, *keys)
        if isinstance(tokens, float) and tokens.is_integer():
            row.fields[name] = int(tokens)  # SDKs of languages without integers send doubles
    reasons = row.take("finish_reason", "gen_ai.response.finish_reasons")
    if isinstance(reasons, list):  # one per choice: the first choice's is kept
        del row.fields["finish_reason"]
        row.put("finish_reason", reasons[0] if reasons else None, row.sources["finish_reason"])

    chunk = attributes.get("gen_ai.response.time_to_first_chunk")
    if isinstance(chunk, int | float) and not isinstance(chunk, bool):  # seconds
        row.put("time_to_first_token_ms", chunk * 1000, "gen_ai.response.time_to_first_chunk")
    else:
        row.take("time_to_first_token_ms", "fireline.time_to_first_token_ms", fallback=True)

    _status(span, row)
    input_text, output_text, reason = _content(span, attributes)
    row.put("input_text", input_text, "gen_ai.input.messages")
    row.put("output_text", output_text, "gen_ai.output.messages")
    if "finish_reason" not in row.fields:
        row.put("finish_reason", reason, "gen_ai.output.messages")
    _evaluations(span, row)
    row.put("attributes", _free_attributes(attributes), "span attributes")
    return row.fields, row.sources


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _status(span: Span, row: _Row) -> None:
    """ERROR status (or UNSET with `error.type`) is a failed call; OK always succeeded."""
    code = span.status.code
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
    for event in span.events:
        if event.name == "exception":
            exception_type = _attributes(event.attributes).get("exception.type")
            if isinstance(exception_type, str) and exception_type.strip():
                row.put("error_type", exception_type, "exception event exception.type")
                return
    row.put("error_type", "error", "status")


def _evaluations(span: Span, row: _Row) -> None:
    """`gen_ai.evaluation.result` span events, then `fireline.eval.<name>` attributes."""
    scores: dict[str, Any] = {}
    for event in span.events:
        if event.name != _EVALUATION_EVENT:
            continue
        found = _attributes(event.attributes)
        name = found.get("gen_ai.evaluation.name")
        score = found.get("gen_ai.evaluation.score.value")
        if isinstance(name, str) and name and score is not None:
            scores[name] = score
            row.sources[f"eval_scores.{name}"] = f"{_EVALUATION_EVENT} event '{name}'"
    for origin, label in ((row.resource, "resource "), (row.attributes, "")):  # span wins
        for key, value in origin.items():
            name = key.removeprefix("fireline.eval.")
            if key.startswith("fireline.eval.") and name:
                scores[name] = value
                row.sources[f"eval_scores.{name}"] = f"{label}{key}"
    row.put("eval_scores", scores or None, "fireline.eval.*")


def _free_attributes(attributes: Mapping[str, Any]) -> dict[str, str | int | float | bool]:
    """The span's other scalar attributes, bounded: the first 64, strings cut at 1024 chars."""
    kept: dict[str, str | int | float | bool] = {}
    for key, value in attributes.items():
        if len(kept) >= MAX_ATTRIBUTES:
            break
        name = key.strip()
        if (
            not name
            or len(name) > MAX_ATTRIBUTE_KEY_CHARS
            or name in kept
            or key in _MAPPED
            or key in _CONTENT
            or key.startswith(_SKIPPED_PREFIXES)
        ):
            continue
        if isinstance(value, str):
            kept[name] = value[:MAX_ATTRIBUTE_CHARS]
        elif isinstance(value, bool | int) or (isinstance(value, float) and math.isfinite(value)):
            kept[name] = value
    return kept


# ---------------------------------------------------------------- content


def _content(
    span: Span, attributes: Mapping[str, Any]
) -> tuple[str | None, str | None, str | None]:
    """Input text, output text and finish reason, from the first convention the span uses."""
    details: dict[str, Any] = {}
    for event in span.events:
        if event.name == _DETAILS_EVENT:
            details = _attributes(event.attributes)
    carrier = {**details, **attributes}
    prompt = _text_input(carrier) or _event_input(span) or _legacy_input(carrier, span)
    answer, reason = _text_output(carrier)
    if not answer and not reason:
        answer, reason = _event_output(span)
    if not answer and not reason:
        answer, reason = _legacy_output(carrier, span)
    return _cut(prompt), _cut(answer), reason


def _cut(text: str | None) -> str | None:
    return text[:MAX_TEXT_CHARS] if text else None


def _text_input(carrier: Mapping[str, Any]) -> str | None:
    system = carrier.get("gen_ai.system_instructions")
    messages = carrier.get("gen_ai.input.messages")
    if system is None and messages is None:
        return None
    turns: list[tuple[str | None, str]] = []
    if system is not None:
        turns.append(("system", _text_of(_structured(system))))
    turns.extend(_turns(_structured(messages)))
    return _render_turns(turns)


def _text_output(carrier: Mapping[str, Any]) -> tuple[str | None, str | None]:
    messages = carrier.get("gen_ai.output.messages")
    if messages is None:
        return None, None
    turns = _turns(_structured(messages))
    return _join(text for _, text in turns), _first_reason(_structured(messages))


def _event_input(span: Span) -> str | None:
    turns: list[tuple[str | None, str]] = []
    for event in span.events:
        role = _MESSAGE_EVENTS.get(event.name)
        if role is None:
            continue
        found = _attributes(event.attributes)
        body = _event_body(found)
        turns.append((_str(body.get("role")) or role, _text_of(body.get("content"))))
    return _render_turns(turns) if turns else None


def _event_output(span: Span) -> tuple[str | None, str | None]:
    choices: list[tuple[int, str, str | None]] = []
    for event in span.events:
        if event.name != _CHOICE_EVENT:
            continue
        body = _event_body(_attributes(event.attributes))
        message = body.get("message")
        content = message.get("content") if isinstance(message, dict) else body.get("content")
        index = body.get("index")
        position = index if isinstance(index, int) else len(choices)
        choices.append((position, _text_of(content), _str(body.get("finish_reason"))))
    if not choices:
        return None, None
    choices.sort(key=lambda choice: choice[0])
    return _join(text for _, text, _ in choices), choices[0][2]


def _event_body(found: Mapping[str, Any]) -> dict[str, Any]:
    """An old-convention event's body: its attributes, or the JSON in gen_ai.event.content."""
    body = dict(found)
    packed = _structured(found.get("gen_ai.event.content"))
    if isinstance(packed, dict):
        body = {**packed, **{k: v for k, v in body.items() if k != "gen_ai.event.content"}}
    message = body.get("message")
    if isinstance(message, str):
        body["message"] = _structured(message)
    return body


def _legacy_input(carrier: Mapping[str, Any], span: Span) -> str | None:
    prompt = carrier.get("gen_ai.prompt")
    for event in span.events:
        if prompt is None and event.name == "gen_ai.content.prompt":
            prompt = _attributes(event.attributes).get("gen_ai.prompt")
    if prompt is not None:
        return _render_turns(_turns(_structured(prompt)))
    indexed = _indexed(carrier, "prompt")
    if indexed:
        return _render_turns(
            [(_str(entry.get("role")), _text_of(entry.get("content"))) for entry in indexed]
        )
    return None


def _legacy_output(carrier: Mapping[str, Any], span: Span) -> tuple[str | None, str | None]:
    completion = carrier.get("gen_ai.completion")
    for event in span.events:
        if completion is None and event.name == "gen_ai.content.completion":
            completion = _attributes(event.attributes).get("gen_ai.completion")
    if completion is not None:
        structured = _structured(completion)
        return _join(text for _, text in _turns(structured)), _first_reason(structured)
    indexed = _indexed(carrier, "completion")
    if indexed:
        texts = (_text_of(entry.get("content")) for entry in indexed)
        return _join(texts), _str(indexed[0].get("finish_reason"))
    return None, None


def _indexed(carrier: Mapping[str, Any], kind: str) -> list[dict[str, Any]]:
    """Flattened messages: gen_ai.prompt.0.role, gen_ai.prompt.0.content, ... in index order."""
    entries: dict[int, dict[str, Any]] = {}
    for key, value in carrier.items():
        match = _INDEXED.match(key)
        if match and match.group(1) == kind:
            entries.setdefault(int(match.group(2)), {})[match.group(3)] = value
    return [entries[index] for index in sorted(entries)]


def _turns(messages: Any) -> list[tuple[str | None, str]]:
    """(role, text) of each message; a bare string is one message without a role."""
    if messages is None:
        return []
    if isinstance(messages, dict):
        messages = [messages]
    if not isinstance(messages, list):
        return [(None, _text_of(messages))]
    turns: list[tuple[str | None, str]] = []
    for message in messages:
        if isinstance(message, dict) and ("parts" in message or "content" in message):
            content = message.get("parts", message.get("content"))
            turns.append((_str(message.get("role")), _text_of(content)))
        else:
            turns.append((None, _text_of(message)))
    return turns


def _render_turns(turns: list[tuple[str | None, str]]) -> str | None:
    """One user message is its text; a conversation is `role: text` blocks."""
    turns = [(role, text) for role, text in turns if text]
    if not turns:
        return None
    if len(turns) == 1 and turns[0][0] in (None, "user"):
        return turns[0][1]
    return "\n\n".join(f"{role}: {text}" if role else text for role, text in turns)


def _text_of(content: Any) -> str:
    """The readable text of message content: a string, a part, or a list of parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(text for text in (_part_text(part) for part in content) if text)
    if isinstance(content, dict):
        return _part_text(content)
    return _json(content)


def _part_text(part: Any) -> str:
    if isinstance(part, str):
        return part
    if not isinstance(part, dict):
        return _json(part)
    kind = part.get("type")
    if kind in (None, "text"):
        text = part.get("content", part.get("text"))
        return text if isinstance(text, str) else _json(text) if text is not None else ""
    if kind == "reasoning":
        return ""  # the model's thinking is not its answer
    if kind == "tool_call":
        arguments = part.get("arguments")
        suffix = f" {_json(arguments)}" if arguments is not None else ""
        return f"[tool_call {_str(part.get('name')) or '?'}{suffix}]"
    if kind == "tool_call_response":
        result = part.get("response", part.get("result"))
        return f"[tool_call_response {_json(result)}]"
    return f"[{kind}]"  # blobs, files, URIs: named, never inlined


def _first_reason(messages: Any) -> str | None:
    first = messages[0] if isinstance(messages, list) and messages else messages
    return _str(first.get("finish_reason")) if isinstance(first, dict) else None


def _join(texts: Iterable[str]) -> str | None:
    return "\n\n".join(text for text in texts if text) or None


def _structured(value: Any) -> Any:
    """A JSON string decoded (content attributes may be JSON strings), else the value."""
    if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return value
    return value


def _json(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_bytes_hex)


def _bytes_hex(value: Any) -> str:
    return value.hex() if isinstance(value, bytes) else str(value)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# ---------------------------------------------------------------- OTLP values


def _attributes(pairs: Iterable[KeyValue]) -> dict[str, Any]:
    """Key-value pairs as a dict of Python values (the first of a repeated key wins)."""
    found: dict[str, Any] = {}
    for pair in pairs:
        if pair.key not in found:
            found[pair.key] = _value(pair.value)
    return found


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    if kind == "bytes_value":
        return value.bytes_value
    return None
