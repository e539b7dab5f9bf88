"""OpenTelemetry GenAI spans' content as text, and OTLP attribute values as Python values.

The content conventions (current attributes, events up to v1.36, older attributes) and how
they are rendered are in docs/otlp.md; `fireline.ingest.otlp` maps the rest of a span.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from pydantic_core import from_json

from fireline.ingest.schema import MAX_TEXT_CHARS

# Events of the GenAI conventions up to v1.36, as span events.
_MESSAGE_EVENTS = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
_CHOICE_EVENT = "gen_ai.choice"
_DETAILS_EVENT = "gen_ai.client.inference.operation.details"
_INDEXED = re.compile(r"^gen_ai\.(prompt|completion)\.(\d+)\.(role|content|finish_reason)$")


def content(
    events: Sequence[Span.Event], attributes: Mapping[str, Any]
) -> tuple[str | None, str | None, str | None]:
    """Input text, output text and finish reason, from the first convention the span uses."""
    details: dict[str, Any] = {}
    for event in events:
        if event.name == _DETAILS_EVENT:
            details = attribute_values(event.attributes)
    carrier = {**details, **attributes} if details else attributes
    prompt = _text_input(carrier) or _event_input(events) or _legacy_input(carrier, events)
    answer, reason = _text_output(carrier)
    if not answer and not reason:
        answer, reason = _event_output(events)
    if not answer and not reason:
        answer, reason = _legacy_output(carrier, events)
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
    structured = _structured(messages)
    return _join(text for _, text in _turns(structured)), _first_reason(structured)


def _event_input(events: Sequence[Span.Event]) -> str | None:
    turns: list[tuple[str | None, str]] = []
    for event in events:
        role = _MESSAGE_EVENTS.get(event.name)
        if role is None:
            continue
        found = attribute_values(event.attributes)
        body = _event_body(found)
        turns.append((_str(body.get("role")) or role, _text_of(body.get("content"))))
    return _render_turns(turns) if turns else None


def _event_output(events: Sequence[Span.Event]) -> tuple[str | None, str | None]:
    choices: list[tuple[int, str, str | None]] = []
    for event in events:
        if event.name != _CHOICE_EVENT:
            continue
        body = _event_body(attribute_values(event.attributes))
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


def _legacy_input(carrier: Mapping[str, Any], events: Sequence[Span.Event]) -> str | None:
    prompt = carrier.get("gen_ai.prompt")
    for event in events:
        if prompt is None and event.name == "gen_ai.content.prompt":
            prompt = attribute_values(event.attributes).get("gen_ai.prompt")
    if prompt is not None:
        return _render_turns(_turns(_structured(prompt)))
    indexed = _indexed(carrier, "prompt")
    if indexed:
        return _render_turns(
            [(_str(entry.get("role")), _text_of(entry.get("content"))) for entry in indexed]
        )
    return None


def _legacy_output(
    carrier: Mapping[str, Any], events: Sequence[Span.Event]
) -> tuple[str | None, str | None]:
    completion = carrier.get("gen_ai.completion")
    for event in events:
        if completion is None and event.name == "gen_ai.content.completion":
            completion = attribute_values(event.attributes).get("gen_ai.completion")
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
    prefix = f"gen_ai.{kind}."
    for key, value in carrier.items():
        match = _INDEXED.match(key) if key.startswith(prefix) else None
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
        # pydantic's JSON parser (Rust) reads it in half json.loads' time, to the same
        # value; whatever it refuses goes to json.loads, which accepts a few more (lone
        # surrogates) and decides, as ever, what is not JSON.
        try:
            return from_json(value)
        except (ValueError, RecursionError):
            pass
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


def attribute_values(pairs: Iterable[KeyValue]) -> dict[str, Any]:
    """Key-value pairs as a dict of Python values (the first of a repeated key wins)."""
    found: dict[str, Any] = {}
    for pair in pairs:
        key = pair.key
        if key not in found:
            value = pair.value
            text = value.string_value  # not empty: the value is this string (a oneof)
            if text:
                found[key] = text
                continue
            kind = value.WhichOneof("value")
            if kind == "int_value":
                found[key] = value.int_value
            elif kind == "double_value":
                found[key] = value.double_value
            else:
                found[key] = _value(value, kind)
    return found


def _value(value: AnyValue, kind: str | None = None) -> Any:
    kind = kind or value.WhichOneof("value")
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
        return attribute_values(value.kvlist_value.values)
    if kind == "bytes_value":
        return value.bytes_value
    return None
