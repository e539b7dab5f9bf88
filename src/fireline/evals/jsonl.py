"""Eval cases as JSON Lines: one case per line, validated on the way in.

>>> from fireline.evals.model import EvalCase
>>> text = dumps([EvalCase(id="a", incident_id=1, feature="bot", input="hi")])
>>> [case.id for case in loads(text)]
['a']
>>> loads('{"id": "a"}\\n')
Traceback (most recent call last):
...
fireline.errors.InvalidInput: line 1, field 'incident_id': Field required (and 2 more problems)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import ValidationError

from fireline.errors import InvalidInput, Problem
from fireline.evals.model import EvalCase

MEDIA_TYPE = "application/x-ndjson"


def lines(cases: Iterable[EvalCase]) -> Iterator[str]:
    """Each case as one line of JSON, newline included."""
    for case in cases:
        yield case.model_dump_json() + "\n"


def dumps(cases: Iterable[EvalCase]) -> str:
    return "".join(lines(cases))


def dump(cases: Iterable[EvalCase], path: Path) -> int:
    """Write the cases to `path`; return how many."""
    count = 0
    with path.open("w", encoding="utf-8") as file:
        for line in lines(cases):
            file.write(line)
            count += 1
    return count


def _problems(number: int, error: ValidationError) -> list[Problem]:
    return [
        Problem(number, ".".join(str(p) for p in item["loc"]) or None, item["msg"], "line")
        for item in error.errors()
    ]


def loads(text: str, source: str | None = None) -> list[EvalCase]:
    """Cases from JSON Lines text (blank lines skipped); InvalidInput naming the line and
    field of every malformed case, and repeated ids."""
    cases: list[EvalCase] = []
    problems: list[Problem] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            case = EvalCase.model_validate_json(line)
        except ValidationError as error:
            try:
                json.loads(line)
            except ValueError as bad:
                problems.append(Problem(number, None, f"not JSON: {bad}", "line"))
                continue
            problems.extend(_problems(number, error))
            continue
        if case.id in seen:
            problems.append(Problem(number, "id", f"case id {case.id!r} is repeated", "line"))
        seen.add(case.id)
        cases.append(case)
    if problems:
        raise InvalidInput(problems, source)
    return cases


def load(path: Path) -> list[EvalCase]:
    """Cases from a JSON Lines file (see `loads`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        message = f"cannot read the file: {error.strerror or error}"
        raise InvalidInput([Problem(None, None, message)], str(path)) from None
    return loads(text, str(path))
