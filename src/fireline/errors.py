"""Every exception fireline raises on purpose, grouped by where it comes from."""

from __future__ import annotations

from dataclasses import dataclass


class FirelineError(Exception):
    """Base class of fireline's own errors."""


# ---------------------------------------------------------------- input


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where it is and what is wrong."""

    row: int | None
    field: str | None
    message: str
    row_label: str = "row"

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"{self.row_label} {self.row}")
        if self.field is not None:
            where.append(f"field '{self.field}'")
        return f"{', '.join(where)}: {self.message}" if where else self.message


class InvalidInput(FirelineError):
    """Input that fireline refuses; carries every problem found, with row and field."""

    def __init__(self, problems: list[Problem], source: str | None = None) -> None:
        self.problems = problems
        self.source = source
        first = problems[0] if problems else Problem(None, None, "invalid input")
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        prefix = f"{source}: " if source else ""
        super().__init__(f"{prefix}{first}{more}")


class PayloadTooLarge(InvalidInput):
    """A request or batch above the configured size limit."""


class ConfigError(FirelineError):
    """A configuration file that fireline cannot use; names the file and line."""

    def __init__(self, source: str, line: int | None, message: str) -> None:
        self.source = source
        self.line = line
        self.message = message
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {message}")


# ---------------------------------------------------------------- state


class NotFound(FirelineError):
    """The named incident, guard or record does not exist."""


class IllegalTransition(FirelineError):
    """An incident was asked to move to a state its lifecycle does not allow from here."""


# ---------------------------------------------------------------- stores


class StoreUnavailable(FirelineError):
    """A store cannot be opened, for example because another process holds its lock."""
