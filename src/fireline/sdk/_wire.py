"""Calls to JSON the server accepts: the client-side mirror of fireline's ingest schema.

The server validates a batch whole and refuses all of it for one bad row, so each call is
checked here first. What can be repaired is (over-long text is truncated, a field of the
wrong type is left out, with a note); a call that cannot be stored at all (a malformed
feature name, an impossible time) is refused alone instead of taking its batch down.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

#: Most calls one request may carry (the server's limit).
MAX_BATCH_CALLS = 10_000
#: Largest request body the server accepts.
MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_NAME_CHARS = 200
MAX_TEXT_CHARS = 200_000
MAX_ATTRIBUTES = 64
MAX_EVAL_SCORES = 32
MAX_DOC_IDS = 200
_MAX_COUNT = 2**63 - 1
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(2999, 12, 31, tzinfo=UTC)

FEATURE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}")

NAME_FIELDS = (
    "error_type",
    "provider",
    "model",
    "model_version",
    "prompt_version",
    "index_version",
    "tenant",
    "user",
    "trace_id",
    "finish_reason",
    "operation",
    "request_model",
    "response_id",
    "session_id",
    "span_id",
)
TEXT_FIELDS = ("input_text", "output_text")
AMOUNT_FIELDS = ("latency_ms", "cost_usd", "time_to_first_token_ms")
COUNT_FIELDS = ("input_tokens", "output_tokens")
DOC_ID_FIELDS = ("retrieved_doc_ids", "cited_doc_ids")
#: Every field of a call the SDK sends, in the order it sends them.
ALL_FIELDS = (
    "call_id",
    "time",
    "feature",
    "status",
    *NAME_FIELDS,
    *AMOUNT_FIELDS,
    *COUNT_FIELDS,
    *TEXT_FIELDS,
    *DOC_ID_FIELDS,
    "attributes",
    "eval_scores",
)


def valid_feature(feature: object) -> bool:
    """Whether fireline accepts `feature` as a feature name."""
    return isinstance(feature, str) and FEATURE_PATTERN.fullmatch(feature) is not None


def encode_call(fields: Mapping[str, Any]) -> tuple[bytes | None, list[str]]:
    """One call as compact UTF-8 JSON, or None when it cannot be stored; plus notes on repairs."""
    notes: list[str] = []
    feature = fields.get("feature")
    if not valid_feature(feature):
        return None, [
            f"feature {_short(feature)} is not 1-128 letters, digits or . _ : / - "
            "starting with a letter or digit"
        ]
    when = fields.get("time")
    if not isinstance(when, datetime):
        return None, [f"time is a {_kind(when)}, not a datetime"]
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    if not _EARLIEST <= when <= _LATEST:
        return None, [f"time {when.isoformat()} is not between 1970 and 2999"]
    out: dict[str, Any] = {}
    call_id = name(fields.get("call_id"))
    if call_id is not None:
        out["call_id"] = call_id
    out["time"] = when.isoformat()
    out["feature"] = feature
    status = fields.get("status")
    if status in ("ok", "error"):
        out["status"] = status
    elif status is not None:
        notes.append(f"status {status!r} is not 'ok' or 'error'")
    for key in NAME_FIELDS:
        _put(out, notes, key, fields.get(key), name, "text of 1-200 characters")
    for key in AMOUNT_FIELDS:
        _put(out, notes, key, fields.get(key), amount, "a finite number >= 0")
    for key in COUNT_FIELDS:
        _put(out, notes, key, fields.get(key), count, "a whole number >= 0")
    for key in TEXT_FIELDS:
        _put(out, notes, key, fields.get(key), _text, "text")
    for key in DOC_ID_FIELDS:
        _put(out, notes, key, fields.get(key), _doc_ids, "a list of ids")
    attributes = _mapping(fields.get("attributes"), attribute_value, MAX_ATTRIBUTES, notes)
    if attributes:
        out["attributes"] = attributes
    scores = _mapping(fields.get("eval_scores"), _score, MAX_EVAL_SCORES, notes)
    if scores:
        out["eval_scores"] = scores
    if "status" not in out and "error_type" in out:
        out["status"] = "error"
    try:
        text = json.dumps(out, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError) as error:  # pragma: no cover - defensive
        return None, [f"not serializable to JSON ({error})"]
    # Lone surrogates cannot be stored; they become '?' rather than poisoning the batch.
    return text.encode("utf-8", "replace"), notes


def _put(
    out: dict[str, Any],
    notes: list[str],
    key: str,
    value: object,
    clean: Any,
    expected: str,
) -> None:
    if value is None:
        return
    cleaned = clean(value)
    if cleaned is None:
        notes.append(f"field '{key}' left out: a {_kind(value)} that is not {expected}")
    else:
        out[key] = cleaned


def name(value: object) -> str | None:
    """`value` stripped and cut to 200 characters; None unless it is non-blank text."""
    if not isinstance(value, str):
        return None
    stripped = value.strip()
    return stripped[:MAX_NAME_CHARS] or None


def amount(value: object) -> float | None:
    """`value` as a float if it is a finite number >= 0, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and number >= 0 else None


def count(value: object) -> int | None:
    """`value` as an int if it is a whole number >= 0, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and 0 <= value <= _MAX_COUNT:
        return int(value)
    return None


def attribute_value(value: object) -> str | int | float | bool | None:
    """`value` if fireline stores it as an attribute (text, finite number, boolean), else None."""
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        return str(value)
    return None


def _score(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _text(value: object) -> str | None:
    return value[:MAX_TEXT_CHARS] if isinstance(value, str) else None


def _doc_ids(value: object) -> list[str] | None:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        return None
    ids = [cleaned for item in value if (cleaned := name(item)) is not None]
    return ids[:MAX_DOC_IDS]


def _mapping(value: object, clean: Any, limit: int, notes: list[str]) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        notes.append(f"a {_kind(value)} is not a mapping; left out")
        return None
    kept: dict[str, Any] = {}
    for key, item in value.items():
        cleaned_key = name(key)
        cleaned = clean(item)
        if cleaned_key is None or cleaned is None:
            notes.append(f"entry {_short(key)} (a {_kind(item)}) left out")
        elif len(kept) >= limit:
            notes.append(f"more than {limit} entries; the rest left out")
            break
        else:
            kept[cleaned_key] = cleaned
    return kept


def _kind(value: object) -> str:
    """The type of an app value: notes name types, never values (they may be personal data)."""
    return type(value).__name__


def _short(value: object) -> str:
    try:
        text = repr(value)
    except Exception:  # a broken __repr__ must not break recording
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 60 else text[:57] + "..."
