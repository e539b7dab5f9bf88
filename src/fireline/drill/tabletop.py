"""Tabletop mode: a person walks through a scenario in the terminal (work in progress)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.console import Console


def tabletop(
    scenario: str,
    *,
    console: Console,
    read: Callable[[str], str] = input,
    record: Path | None = None,
) -> int:
    """Walk a person through `scenario` (a bundled name or a file); the exit code."""
    console.print("tabletop mode is not built yet")
    return 2
