"""Reading JSONL files of calls, keeping line numbers for error messages."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fireline.errors import InvalidInput, Problem


def read_jsonl(
    path: Path, *, on_bytes: Callable[[int], None] = lambda _: None
) -> Iterator[tuple[int, Any]]:
    """Yield `(line_number, object)` for each non-blank line; raise InvalidInput on bad JSON.

    `on_bytes` hears how many bytes each line took (progress bars).
    """
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            on_bytes(len(line))
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
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
