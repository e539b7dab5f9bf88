"""The `fireline` command line."""

from __future__ import annotations

import dataclasses
import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
import yaml
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from fireline.clock import Clock, SimulatedClock, WallClock, as_utc
from fireline.domain.access import Role
from fireline.domain.incident import Incident
from fireline.domain.severity import response_due
from fireline.errors import ConfigError, FirelineError, InvalidInput, Problem
from fireline.ingest.jsonl import read_jsonl
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

#: Most calls, and most bytes of JSON, per request when `fireline ingest --url` uploads a file:
#: below the server's limits (10,000 calls, 10 MiB).
UPLOAD_BATCH = 5_000
UPLOAD_BYTES = 8 * 1024 * 1024


class _Options:
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
    _Options.settings = Settings.resolve(data_dir, state_url, config)


@contextmanager
def _fireline(clock: Clock | None = None) -> Iterator[Fireline]:
    instance = Fireline(_Options.settings, clock=clock or WallClock())
    try:
        yield instance
    finally:
        instance.close()


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


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
) -> None:
    """Run the API server, with detection ticking in the background."""
    import uvicorn

    from fireline.api.app import create_app

    if no_auth and host not in LOOPBACK:
        raise InvalidInput([Problem(None, "--no-auth", f"refused on {host}: only on loopback")])
    with _fireline() as instance:
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
        uvicorn.run(api, host=host, port=port, log_level="info")


class Kind(StrEnum):
    """What a JSONL file holds."""

    CALLS = "calls"
    FEEDBACK = "feedback"
    CHANGES = "changes"


@app.command()
def ingest(
    file: Annotated[
        Path, typer.Argument(help="JSONL file, one record per line", exists=True, dir_okay=False)
    ],
    kind: Annotated[Kind, typer.Option(help="What the file holds")] = Kind.CALLS,
    url: Annotated[
        str | None, typer.Option(help="Send through a running server at this URL instead")
    ] = None,
    token: Annotated[str | None, typer.Option(help="API token for --url", envvar=TOKEN_ENV)] = None,
) -> None:
    """Import calls, feedback or changes from a JSONL file: every line is validated before
    anything is written."""
    rows = _read_with_progress(file)
    if url is None:
        with _fireline() as instance:
            store = {
                Kind.CALLS: instance.ingest.ingest_rows,
                Kind.FEEDBACK: instance.ingest.ingest_feedback_rows,
                Kind.CHANGES: instance.ingest.ingest_change_rows,
            }[kind]
            with errors.status(f"storing {len(rows)} {kind.value}"):
                result = store(rows, source=str(file), max_rows=None, row_label="line")
        _report_ingest(file, kind, result.accepted, result.duplicates, result.late)
        return
    from fireline.ingest.records import parse_changes, parse_feedback
    from fireline.ingest.schema import parse_calls

    parse = {Kind.CALLS: parse_calls, Kind.FEEDBACK: parse_feedback, Kind.CHANGES: parse_changes}
    parse[kind](rows, source=str(file), max_rows=None, row_label="line")  # refuse early
    accepted = duplicates = late = 0
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with (
        Progress(console=errors, transient=True) as progress,
        httpx.Client(base_url=url, timeout=60, headers=headers) as client,
    ):
        task = progress.add_task(f"sending {file.name}", total=len(rows))
        for batch in _upload_batches(rows):
            body = {kind.value: [row for _, row in batch]}
            response = client.post(f"/v1/{kind.value}", json=body)
            if response.status_code != 200:
                raise FirelineError(
                    f"server answered {response.status_code} for lines {batch[0][0]}-"
                    f"{batch[-1][0]} of {file} (none of them stored; {accepted} earlier records "
                    f"were): {_detail(response)}"
                )
            answer = response.json()
            accepted += answer["accepted"]
            duplicates += answer["duplicates"]
            late += answer["late"]
            progress.advance(task, len(batch))
    _report_ingest(file, kind, accepted, duplicates, late)


def _read_with_progress(file: Path) -> list[tuple[int, Any]]:
    size = file.stat().st_size
    with Progress(console=errors, transient=True) as progress:
        task = progress.add_task(f"reading {file.name}", total=size)
        return list(read_jsonl(file, on_bytes=lambda n: progress.advance(task, n)))


def _upload_batches(rows: list[tuple[int, Any]]) -> Iterator[list[tuple[int, Any]]]:
    batch: list[tuple[int, Any]] = []
    size = 0
    for number, row in rows:
        row_size = len(json.dumps(row)) + 1
        if batch and (len(batch) >= UPLOAD_BATCH or size + row_size > UPLOAD_BYTES):
            yield batch
            batch, size = [], 0
        batch.append((number, row))
        size += row_size
    if batch:
        yield batch


def _report_ingest(file: Path, kind: Kind, accepted: int, duplicates: int, late: int) -> None:
    console.print(f"{file}: {accepted} {kind.value} stored, {duplicates} already stored")
    if late:
        errors.print(
            f"warning: {late} calls are older than what detection has already evaluated; "
            "they are stored, but no detector will count them (import history before "
            "serving, or replay it with `fireline tick --at` on a fresh data directory)"
        )


@app.command()
def tick(
    at: Annotated[
        datetime | None, typer.Option(help="Event time to detect up to (ISO 8601) [default: now]")
    ] = None,
) -> None:
    """Run detection once, up to now (or --at), and respond to what it finds."""
    if at is not None and as_utc(at) > WallClock().now() + timedelta(minutes=1):
        raise InvalidInput(
            [Problem(None, "--at", "is in the future: detection would skip the calls to come")]
        )
    with _fireline(SimulatedClock(at) if at else None) as instance:
        result = instance.tick()
    console.print(
        f"evaluated {result.buckets} bucket(s) up to {result.watermark}: "
        f"{len(result.alerts)} alert(s), {len(result.recoveries)} recovery(ies)"
    )


@app.command()
def incidents(
    open_only: Annotated[
        bool, typer.Option("--open", help="Only incidents not yet resolved")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="How many, newest first")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List incidents, newest first."""
    with _fireline() as instance:
        found = instance.list_incidents(open_only=open_only, limit=limit)
    if as_json:
        _print_json([_incident_dict(i) for i in found])
        return
    if not found:
        console.print("no incidents")
        return
    table = Table("id", "severity", "type", "state", "feature", "detected", "title")
    for i in found:
        table.add_row(
            str(i.incident_id),
            i.severity.value,
            i.type.value,
            i.state.value,
            i.feature,
            i.detected_at.strftime("%Y-%m-%d %H:%M:%S"),
            i.title,
        )
    console.print(table)


@app.command()
def incident(
    incident_id: Annotated[int, typer.Argument(help="Incident id", min=1, max=2**31 - 1)],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Show one incident with its timeline."""
    with _fireline() as instance, instance.state.unit_of_work() as tx:
        found = tx.get_incident(incident_id)
        entries = tx.timeline(incident_id)
    if as_json:
        _print_json(
            {
                **_incident_dict(found),
                "timeline": [
                    {"at": e.at, "actor": e.actor, "kind": e.kind, "message": e.message}
                    for e in entries
                ],
            }
        )
        return
    console.print(f"[bold]incident {found.incident_id}[/bold]: {found.title}")
    console.print(
        f"{found.severity} {found.type} on {found.feature}, {found.state}; "
        f"response {found.severity.response_target}"
    )
    table = Table("at", "actor", "what", "message")
    for e in entries:
        table.add_row(e.at.strftime("%Y-%m-%d %H:%M:%S"), e.actor, e.kind, e.message)
    console.print(table)


@app.command()
def resolve(
    incident_id: Annotated[int, typer.Argument(help="Incident id", min=1, max=2**31 - 1)],
    reason: Annotated[str, typer.Option(help="Why the incident is resolved")],
    actor: Annotated[str | None, typer.Option(help="Who resolves it [default: cli:$USER]")] = None,
) -> None:
    """Resolve an incident by hand and lift the guards it set."""
    with _fireline() as instance:
        who = actor or f"cli:{getpass.getuser()}"
        found = instance.resolve(incident_id, actor=who, reason=reason)
    console.print(f"incident {found.incident_id} resolved")


@app.command()
def guards(as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """List the guards of every feature that has one."""
    with _fireline() as instance, instance.state.unit_of_work() as tx:
        found = tx.list_guards()
    if as_json:
        _print_json(
            [
                {
                    "feature": g.feature,
                    "level": int(g.level),
                    "enabled": g.enabled,
                    "reason": g.reason,
                    "incident_id": g.incident_id,
                }
                for g in found
            ]
        )
        return
    table = Table("feature", "level", "enabled", "incident", "reason")
    for g in found:
        table.add_row(
            g.feature,
            f"{int(g.level)} {g.level.slug}",
            str(g.enabled),
            str(g.incident_id or ""),
            g.reason or "",
        )
    console.print(table)


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

    with _fireline() as instance:
        token = issue_token(instance.state, name, role, now=instance.clock.now())
    sys.stdout.write(token + "\n")


@token_app.command("list")
def token_list() -> None:
    """List tokens by name and role (never the tokens themselves)."""
    with _fireline() as instance, instance.state.unit_of_work() as tx:
        found = tx.list_tokens()
    table = Table("name", "role", "created", "revoked")
    for t in found:
        revoked = f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else ""
        table.add_row(t.name, t.role.value, f"{t.created_at:%Y-%m-%d %H:%M}", revoked)
    console.print(table)


@token_app.command("revoke")
def token_revoke(name: Annotated[str, typer.Argument(help="The token's name")]) -> None:
    """Revoke a token at once."""
    with _fireline() as instance, instance.state.unit_of_work() as tx:
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

    settings = _Options.settings
    chosen = path or find_config(settings.config_path, settings.data_dir)
    if chosen is None:
        console.print("no configuration file: every setting has its default")
        return
    loaded = load_config(chosen)
    console.print(f"{chosen}: valid")
    sys.stdout.write(yaml.safe_dump(loaded.model_dump(), sort_keys=False))


@app.command()
def changes(
    feature: Annotated[
        str | None, typer.Option(help="Only this feature's and global changes")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="How many, newest first")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List recorded changes (deploys), newest first."""
    with _fireline() as instance, instance.state.unit_of_work(read_only=True) as tx:
        found = tx.list_changes(feature=feature, limit=limit)
    if as_json:
        _print_json([dataclasses.asdict(change) for change in found])
        return
    table = Table("time", "kind", "feature", "version", "previous", "author")
    for c in found:
        table.add_row(
            f"{c.time:%Y-%m-%d %H:%M:%S}",
            c.kind.value,
            c.feature or "(all)",
            c.version,
            c.previous_version or "",
            c.author or "",
        )
    console.print(table)


@app.command()
def migrate() -> None:
    """Create or upgrade the state store's schema."""
    with _fireline() as instance:
        revision = instance.state.current_revision()
    console.print(f"state store at revision {revision}")


@app.command()
def drill(
    scenario: Annotated[str, typer.Argument(help="Scenario name, e.g. provider-outage")],
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same drill")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the scorecard as JSON")] = False,
) -> None:
    """Replay a scenario through the whole loop on a simulated clock and print its scorecard."""
    from fireline.drill import SCENARIOS, run_drill

    if scenario not in SCENARIOS:
        raise InvalidInput(
            [Problem(None, None, f"unknown scenario '{scenario}'; known: {', '.join(SCENARIOS)}")]
        )
    chosen = SCENARIOS[scenario]
    if as_json:
        card = run_drill(chosen, seed=seed)
        _print_json(card.to_dict())
    else:
        with Progress(console=errors, transient=True) as progress:
            task = progress.add_task(f"drill {scenario}", total=1.0)
            card = run_drill(
                chosen, seed=seed, progress=lambda done: progress.update(task, completed=done)
            )
        _print_scorecard(card.to_dict())
    if not card.passed:
        raise typer.Exit(1)


def _print_scorecard(card: dict[str, Any]) -> None:
    table = Table("", "", title=f"drill {card['scenario']} (seed {card['seed']})")
    for key, value in card.items():
        if key not in ("scenario", "seed", "failures", "timeline"):
            table.add_row(key.replace("_", " "), "—" if value is None else str(value))
    console.print(table)
    if card["timeline"]:
        console.print("[bold]incident timeline[/bold] (simulated time)")
        for line in card["timeline"]:
            console.print(f"  {line}", markup=False, highlight=False)
    verdict = (
        "[green]PASSED[/green]"
        if card["passed"]
        else "[red]FAILED[/red]: " + "; ".join(card["failures"])
    )
    console.print(verdict)


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json()["detail"])
    except (ValueError, KeyError, TypeError):
        return response.text[:500]


def _incident_dict(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.incident_id,
        "feature": incident.feature,
        "type": incident.type.value,
        "severity": incident.severity.value,
        "response_target": incident.severity.response_target,
        "response_due": response_due(incident.severity, incident.detected_at),
        "state": incident.state.value,
        "title": incident.title,
        "state_times": {s.value: t for s, t in incident.state_times.items()},
    }


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
