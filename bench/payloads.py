"""Deterministic benchmark payloads: JSONL calls and OTLP protobuf trace exports.

Both describe the same traffic: a chat feature calling a model, a few percent of calls
failing, a fifth carrying prompt and answer text (a tenth of those with an e-mail address,
so redaction has something to mask), the rest metadata only (OpenTelemetry GenAI
instrumentations record no content unless asked to).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FEATURES = ("support-bot", "search-answers", "summarize", "code-review")
MODELS = ("gpt-4o-2024-08-06", "gpt-4o-mini", "claude-sonnet-4", "gemini-2.5-flash")
PROVIDERS = {"gpt": "openai", "cla": "anthropic", "gem": "gcp.gemini"}
ERRORS = ("http_503", "http_429", "timeout")
_TEXT = (
    "the order arrived late and the box was damaged please refund my card or send a new one "
    "soon thanks a lot for your help with this issue we have been waiting for a week now"
)
WORDS = tuple(_TEXT.split())

#: What every payload is made of, recorded in the results.
MIX = {
    "error_share": 0.05,
    "text_share": 0.2,
    "email_in_text_share": 0.02,
    "call_id_share_jsonl": 0.75,
    "input_text_words": 40,
    "output_text_words": 60,
    "attributes_per_call": 3,
}


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def _texts(rng: random.Random) -> tuple[str, str] | None:
    if rng.random() >= MIX["text_share"]:
        return None
    prompt = _sentence(rng, int(MIX["input_text_words"]))
    if rng.random() < MIX["email_in_text_share"] / MIX["text_share"]:
        prompt += f" you can reach me at jane.doe{rng.randrange(1000)}@example.com"
    return prompt, _sentence(rng, int(MIX["output_text_words"]))


def call_rows(count: int, seed: int = 1) -> Iterator[dict[str, Any]]:
    """`count` calls in the /v1/calls wire format."""
    rng = random.Random(seed)
    for n in range(count):
        model = rng.choice(MODELS)
        failed = rng.random() < MIX["error_share"]
        when = T0 + timedelta(milliseconds=n * 7 + rng.randrange(5))
        row: dict[str, Any] = {}
        if rng.random() < MIX["call_id_share_jsonl"]:
            row["call_id"] = f"bench-{seed}-{n:09d}"
        row |= {
            "time": when.isoformat().replace("+00:00", "Z"),
            "feature": rng.choice(FEATURES),
            "provider": PROVIDERS[model[:3]],
            "model": model,
            "prompt_version": f"v{rng.randrange(1, 20)}",
            "tenant": f"tenant-{rng.randrange(50)}",
            "user": f"user-{rng.randrange(100_000)}",
            "trace_id": f"{rng.getrandbits(128):032x}",
            "latency_ms": round(rng.uniform(80, 4000), 3),
            "attributes": {
                "region": rng.choice(("eu-west-1", "us-east-1")),
                "temperature": 0.2,
                "stream": rng.random() < 0.5,
            },
        }
        if failed:
            row["status"] = "error"
            row["error_type"] = rng.choice(ERRORS)
        else:
            row["input_tokens"] = rng.randrange(20, 4000)
            row["output_tokens"] = rng.randrange(1, 1000)
            row["finish_reason"] = "stop"
            texts = _texts(rng)
            if texts is not None:
                row["input_text"], row["output_text"] = texts
        yield row


def write_jsonl(path: Path, count: int, seed: int = 1) -> int:
    """Write `count` calls to `path`, one JSON object a line; return the file's size."""
    with path.open("w", encoding="utf-8") as handle:
        for row in call_rows(count, seed):
            handle.write(json.dumps(row, separators=(",", ":")) + "\n")
    return path.stat().st_size


def _kv(key: str, value: str | int | float | bool) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def _span(rng: random.Random, number: int) -> Span:
    model = rng.choice(MODELS)
    start = int((T0 + timedelta(milliseconds=number * 7)).timestamp() * 1e9) + rng.randrange(10**6)
    span = Span(
        trace_id=rng.getrandbits(128).to_bytes(16, "big") or b"\x01" * 16,
        span_id=rng.getrandbits(64).to_bytes(8, "big") or b"\x01" * 8,
        parent_span_id=rng.getrandbits(64).to_bytes(8, "big"),
        name=f"chat {model}",
        kind=Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=start,
        end_time_unix_nano=start + rng.randrange(80, 4000) * 10**6,
    )
    attributes: list[tuple[str, str | int | float | bool]] = [
        ("gen_ai.operation.name", "chat"),
        ("gen_ai.provider.name", PROVIDERS[model[:3]]),
        ("gen_ai.request.model", model),
        ("gen_ai.request.temperature", 0.2),
        ("gen_ai.request.max_tokens", 1024),
        ("server.address", "api.example.com"),
        ("fireline.tenant", f"tenant-{rng.randrange(50)}"),
        ("user.id", f"user-{rng.randrange(100_000)}"),
    ]
    if rng.random() < MIX["error_share"]:
        span.status.code = Status.STATUS_CODE_ERROR
        attributes.append(("error.type", rng.choice(ERRORS)))
    else:
        attributes += [
            ("gen_ai.response.model", model),
            ("gen_ai.response.id", f"chatcmpl-{rng.getrandbits(64):016x}"),
            ("gen_ai.usage.input_tokens", rng.randrange(20, 4000)),
            ("gen_ai.usage.output_tokens", rng.randrange(1, 1000)),
        ]
        span.attributes.append(
            KeyValue(
                key="gen_ai.response.finish_reasons",
                value=AnyValue(array_value={"values": [AnyValue(string_value="stop")]}),
            )
        )
        texts = _texts(rng)
        if texts is not None:
            prompt, answer = texts
            inputs = [{"role": "user", "parts": [{"type": "text", "content": prompt}]}]
            outputs = [
                {
                    "role": "assistant",
                    "parts": [{"type": "text", "content": answer}],
                    "finish_reason": "stop",
                }
            ]
            attributes.append(("gen_ai.input.messages", json.dumps(inputs)))
            attributes.append(("gen_ai.output.messages", json.dumps(outputs)))
    span.attributes.extend(_kv(key, value) for key, value in attributes)
    return span


def otlp_requests(spans: int, batch: int, seed: int = 2) -> list[bytes]:
    """`spans` GenAI spans as serialized ExportTraceServiceRequests of `batch` spans each,
    grouped by service as an SDK's BatchSpanProcessor would send them (one resource)."""
    rng = random.Random(seed)
    bodies: list[bytes] = []
    for first in range(0, spans, batch):
        request = ExportTraceServiceRequest()
        resource_spans = request.resource_spans.add()
        resource_spans.resource.attributes.extend(
            [
                _kv("service.name", FEATURES[(first // batch) % len(FEATURES)]),
                _kv("telemetry.sdk.language", "python"),
                _kv("telemetry.sdk.name", "opentelemetry"),
                _kv("telemetry.sdk.version", "1.45.2"),
            ]
        )
        scope = resource_spans.scope_spans.add()
        scope.scope.name = "opentelemetry.instrumentation.openai_v2"
        scope.spans.extend(_span(rng, n) for n in range(first, min(first + batch, spans)))
        bodies.append(request.SerializeToString())
    return bodies
