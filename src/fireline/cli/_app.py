"""The `fireline` command: the Typer app, shared options and output, and the entry point."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from fireline.clock import Clock, WallClock
from fireline.errors import ConfigError, FirelineError, InvalidInput
from fireline.runtime import Fireline
from fireline.settings import CONFIG_ENV, DATA_DIR_ENV, STATE_URL_ENV, Settings

app = typer.Typer(
    name="fireline",
    help="Incident response for production AI features.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)

TOKEN_ENV = "FIRELINE_TOKEN"  # noqa: S105 - the name of a variable, not a secret


class Options:
    settings = Settings()


@app.callback()
def _main(
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Data directory [default: ./.fireline]", envvar=DATA_DIR_ENV),
    ] = None,
    state_url: Annotated[
        str | None,
        typer.Option(
            help="State store URL (SQLAlchemy) instead of SQLite in the data directory",
            envvar=STATE_URL_ENV,
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            help="Configuration file [default: fireline.yaml in the data directory, if any]",
            envvar=CONFIG_ENV,
        ),
    ] = None,
) -> None:
    Options.settings = Settings.resolve(data_dir, state_url, config)


@contextmanager
def open_fireline(clock: Clock | None = None) -> Iterator[Fireline]:
    instance = Fireline(Options.settings, clock=clock or WallClock())
    try:
        yield instance
    finally:
        instance.close()


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def main() -> None:
    """Entry point: fireline's own errors become one clear line and a non-zero exit."""
    try:
        app()
    except InvalidInput as error:
        errors.print(f"error: {error}", markup=False, highlight=False)
        for problem in error.problems[1:]:
            errors.print(f"  {problem}", markup=False, highlight=False)
        sys.exit(2)
    except ConfigError as error:
        errors.print(f"error: {error}", markup=False, highlight=False)
        sys.exit(2)
    except FirelineError as error:
        errors.print(f"error: {error}", markup=False, highlight=False)
        sys.exit(1)
    except httpx.HTTPError as error:
        errors.print(f"error: cannot reach the server: {error}", markup=False, highlight=False)
        sys.exit(1)
    except SQLAlchemyError as error:
        errors.print(f"error: state store: {error}", markup=False, highlight=False)
        sys.exit(1)
