"""Reading a YAML file into a pydantic model, with errors that name the file, line and problem.

The same approach as `fireline.config`: the document is composed once for the line of every
key, and the first validation error is reported at the line of the deepest key it names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from fireline.config import key_lines
from fireline.errors import ConfigError

Model = TypeVar("Model", bound=BaseModel)
#: A position in a YAML document: keys of mappings and indexes of sequences, as strings.
Path = tuple[str, ...]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


class ScenarioError(ConfigError):
    """A drill scenario file that cannot be used; names the file, the line and the problem."""


def parse_duration(value: object) -> float:
    """Seconds from a number of seconds or a text such as "45m", "2h", "14d" or "1h30m"."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a text such as 45m, 2h or 14d")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    if isinstance(value, str):
        text = value.strip().replace(" ", "")
        parts = _DURATION.findall(text)
        if parts and "".join(number + unit for number, unit in parts) == text:
            return sum(float(number) * _UNIT_S[unit] for number, unit in parts)
    raise ValueError(
        f"not a duration: {value!r}; write seconds (90) or a number with s, m, h or d "
        "(45m, 2h, 14d, 1h30m)"
    )


def line_of(lines: Mapping[Path, int], location: Sequence[str]) -> int | None:
    """The line of the deepest key of `location` in the file. Parts that are not keys of the
    file (the tag pydantic adds for a discriminated union, "[key]" of a dict) are skipped."""
    found = _in_file(location, lines)
    if found:
        return lines[found]
    return 1 if lines else None


def load_yaml_model(
    text: str, model: type[Model], source: str, top: str = "a mapping"
) -> tuple[Model, dict[Path, int]]:
    """`text` validated as `model`, and the line of each key; ScenarioError if it is not."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(error, "problem", None) or str(error)
        raise ScenarioError(source, line, f"not valid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ScenarioError(source, 1, f"the file must be {top}")
    lines = key_lines(node)
    try:
        return model.model_validate(data), lines
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        location = tuple(str(part) for part in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = f"unknown field '{location[-1]}'"
        elif first["type"] == "missing":
            message = f"missing field '{location[-1]}'"
            location = location[:-1]
        where = ".".join(_in_file(location, lines))
        prefix = f"{where}: " if where else ""
        raise ScenarioError(source, line_of(lines, location), prefix + message) from None


def _in_file(location: Sequence[str], lines: Mapping[Path, int]) -> Path:
    """The deepest part of `location` that is in the file."""
    found: Path = ()
    for part in location:
        if (*found, part) in lines:
            found = (*found, part)
    return found


__all__ = ["ScenarioError", "line_of", "load_yaml_model", "parse_duration"]
