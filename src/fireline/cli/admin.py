"""Commands that run and administer a deployment: serve, token, config, migrate."""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.table import Table

from fireline.cli._app import Options, app, console, errors, open_fireline
from fireline.domain.access import Role
from fireline.errors import InvalidInput, Problem

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    tick_seconds: Annotated[
        float, typer.Option(help="Seconds between detection ticks; 0 turns detection off")
    ] = 60.0,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="Serve without API tokens (loopback only)")
    ] = False,
    access_log: Annotated[
        bool,
        typer.Option("--access-log/--no-access-log", help="Log a line for every request answered"),
    ] = True,
) -> None:
    """Run the API server, with detection ticking in the background."""
    import uvicorn

    from fireline.api.app import create_app

    if no_auth and host not in LOOPBACK:
        raise InvalidInput([Problem(None, "--no-auth", f"refused on {host}: only on loopback")])
    with open_fireline() as instance:
        instance.config  # noqa: B018 - a bad configuration file stops the server before it listens
        with instance.state.unit_of_work() as tx:
            has_tokens = any(t.active for t in tx.list_tokens())
        if no_auth:
            errors.print("warning: serving without API tokens: anyone on this machine can act")
        elif not has_tokens:
            errors.print(
                "no API tokens yet: create one with `fireline token create NAME --role admin`"
            )
        api = create_app(instance, tick_interval=tick_seconds or None, require_tokens=not no_auth)
        # Modules, configuration and stores live as long as the server: out of the
        # collector's sight, full collections stay short and add no milliseconds to guard
        # reads.
        gc.collect()
        gc.freeze()
        uvicorn.run(api, host=host, port=port, log_level="info", access_log=access_log)


token_app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)
app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="A name for the token, e.g. the app that holds it")],
    role: Annotated[
        Role, typer.Option(help="app: send telemetry and read guards; viewer; responder; admin")
    ],
) -> None:
    """Create a token and print it; only its hash is kept, so it cannot be shown again."""
    from fireline.tokens import issue_token

    with open_fireline() as instance:
        token = issue_token(instance.state, name, role, now=instance.clock.now())
    sys.stdout.write(token + "\n")


@token_app.command("list")
def token_list() -> None:
    """List tokens by name and role (never the tokens themselves)."""
    with open_fireline() as instance, instance.state.unit_of_work() as tx:
        found = tx.list_tokens()
    table = Table("name", "role", "created", "revoked")
    for t in found:
        revoked = f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else ""
        table.add_row(t.name, t.role.value, f"{t.created_at:%Y-%m-%d %H:%M}", revoked)
    console.print(table)


@token_app.command("revoke")
def token_revoke(name: Annotated[str, typer.Argument(help="The token's name")]) -> None:
    """Revoke a token (telemetry routes may accept it for up to 2 s more)."""
    with open_fireline() as instance, instance.state.unit_of_work() as tx:
        tx.revoke_token(name, now=instance.clock.now())
    console.print(f"token '{name}' revoked")


config_app = typer.Typer(help="The configuration file.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("check")
def config_check(
    path: Annotated[
        Path | None, typer.Argument(help="File to check [default: the one in use]")
    ] = None,
) -> None:
    """Validate a configuration file; print its settings with the defaults filled in."""
    from fireline.config import find_config, load_config

    settings = Options.settings
    chosen = path or find_config(settings.config_path, settings.data_dir)
    if chosen is None:
        console.print("no configuration file: every setting has its default")
        return
    loaded = load_config(chosen)
    console.print(f"{chosen}: valid")
    sys.stdout.write(yaml.safe_dump(loaded.model_dump(), sort_keys=False))


@app.command()
def migrate() -> None:
    """Create or upgrade the state store's schema."""
    with open_fireline() as instance:
        revision = instance.state.current_revision()
    console.print(f"state store at revision {revision}")
