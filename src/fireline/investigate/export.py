"""Affected calls as CSV or JSON Lines, one line at a time (for streaming)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, Literal

#: The columns of an export, in order.
COLUMNS = (
    "call_id",
    "time",
    "tenant",
    "user_id",
    "model",
    "model_version",
    "prompt_version",
    "index_version",
    "status",
    "error_type",
    "why",
)
Format = Literal["csv", "jsonl"]
FORMATS: tuple[Format, ...] = ("csv", "jsonl")
MEDIA_TYPES: Mapping[Format, str] = {"csv": "text/csv", "jsonl": "application/x-ndjson"}


def _text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def csv_lines(rows: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """A header line, then a line per row.

    >>> list(csv_lines([{"call_id": "c1", "status": "error", "why": "a, b"}]))[1]
    'c1,,,,,,,,error,,"a, b"\\r\\n'
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    yield buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(["" if row.get(c) is None else _text(row.get(c)) for c in COLUMNS])
        yield buffer.getvalue()


def jsonl_lines(rows: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """A JSON object per row and line.

    >>> list(jsonl_lines([{"call_id": "c1"}]))[0][:20]
    '{"call_id": "c1", "t'
    """
    for row in rows:
        yield json.dumps({c: _text(row.get(c)) for c in COLUMNS}) + "\n"


def lines(rows: Iterable[Mapping[str, Any]], format: Format) -> Iterator[str]:
    """The rows in `format`."""
    return csv_lines(rows) if format == "csv" else jsonl_lines(rows)
