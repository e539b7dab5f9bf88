"""Reading JSONL files of calls, keeping line numbers for error messages."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from pydantic_core import from_json

from fireline.errors import InvalidInput, Problem
from fireline.ingest.gcpause import collector_paused

#: Lines read at a time, with the garbage collector paused (see `gcpause`).
CHUNK_LINES = 65536


def read_jsonl(
    path: Path, *, on_bytes: Callable[[int], None] = lambda _: None
) -> Iterator[tuple[int, Any]]:
    """Yield `(line_number, object)` for each non-blank line; raise InvalidInput on bad JSON.

    `on_bytes` hears how many bytes each line took (progress bars).
    """
    with path.open("rb") as handle:
        lines = enumerate(handle, start=1)
        while True:
            with collector_paused():
                rows, failure, more = _chunk(path, lines, on_bytes)
            yield from rows
            if failure is not None:
                raise failure
            if not more:
                return


def _chunk(
    path: Path,
    lines: Iterator[tuple[int, bytes]],
    on_bytes: Callable[[int], None],
) -> tuple[list[tuple[int, Any]], Exception | None, bool]:
    """The rows of the next CHUNK_LINES lines; the error that stopped them; whether the file
    may go on. The error is raised once the rows before it are yielded, as line by line."""
    rows: list[tuple[int, Any]] = []
    read = 0
    try:
        for number, line in islice(lines, CHUNK_LINES):
            read += 1
            on_bytes(len(line))
            # pydantic's JSON parser (Rust) reads a line in 2/3 of json.loads' time, to the
            # same value; whatever it refuses (a blank line too) goes to json.loads, which
            # accepts a few more (lone surrogates, a UTF-8 BOM) and words errors as ever.
            try:
                rows.append((number, from_json(line)))
                continue
            except (ValueError, RecursionError):
                pass
            if line.strip():
                rows.append((number, _parse(path, number, line)))
    except Exception as error:  # raised in its place by read_jsonl
        return rows, error, False
    return rows, None, read == CHUNK_LINES


def _parse(path: Path, number: int, line: bytes) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as error:
        where = f"{error.msg} at column {error.colno}"
        problem = Problem(number, None, f"not valid JSON ({where})", "line")
        raise InvalidInput([problem], str(path)) from None
    except UnicodeDecodeError:
        problem = Problem(number, None, "not valid UTF-8", "line")
        raise InvalidInput([problem], str(path)) from None
    except (RecursionError, ValueError) as error:
        problem = Problem(number, None, f"not usable JSON ({error})", "line")
        raise InvalidInput([problem], str(path)) from None
