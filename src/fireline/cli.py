"""The `fireline` command line."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from fireline.clock import Clock, SimulatedClock, WallClock
from fireline.domain.incident import Incident
from fireline.domain.severity import response_due
from fireline.errors import FirelineError, InvalidInput, Problem
from fireline.ingest.jsonl import read_jsonl
from fireline.runtime import Fireline
from fireline.settings import DATA_DIR_ENV, STATE_URL_ENV, Settings

app = typer.Typer(
    name="fireline",
    help="Incident response for production AI features.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)

#: Calls per request when `fireline ingest --url` sends a file through a server.
UPLOAD_BATCH = 5_000


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
) -> None:
    _Options.settings = Settings.resolve(data_dir, state_url)


@contextmanager
def _fireline(clock: Clock | None = None) -> Iterator[Fireline]:
    instance = Fireline(_Options.settings, clock=clock or WallClock())
    try:
        yield instance
    finally:
        instance.close()


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    tick_seconds: Annotated[
        float, typer.Option(help="Seconds between detection ticks; 0 turns detection off")
    ] = 60.0,
) -> None:
    """Run the API server, with detection ticking in the background."""
    import uvicorn

    from fireline.api.app import create_app

    with _fireline() as instance:
        instance.state  # noqa: B018 - migrate before serving
        api = create_app(instance, tick_interval=tick_seconds or None)
        uvicorn.run(api, host=host, port=port, log_level="info")


@app.command()
def ingest(
    file: Annotated[
        Path, typer.Argument(help="JSONL file, one call per line", exists=True, dir_okay=False)
    ],
    url: Annotated[
        str | None, typer.Option(help="Send through a running server at this URL instead")
    ] = None,
) -> None:
    """Import calls from a JSONL file: every line is validated before anything is written."""
    rows = list(read_jsonl(file))
    if url is None:
        with _fireline() as instance:
            result = instance.ingest.ingest_rows(
                rows, source=str(file), max_rows=None, row_label="line"
            )
        console.print(f"{file}: {result.accepted} calls stored, {result.duplicates} already stored")
        return
    from fireline.ingest.schema import parse_calls

    parse_calls(
        rows, source=str(file), max_rows=None, row_label="line"
    )  # refuse a bad file before sending any of it
    accepted = duplicates = 0
    with (
        Progress(console=errors, transient=True) as progress,
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        task = progress.add_task(f"sending {file.name}", total=len(rows))
        for start in range(0, len(rows), UPLOAD_BATCH):
            batch = [row for _, row in rows[start : start + UPLOAD_BATCH]]
            response = client.post("/v1/calls", json={"calls": batch})
            if response.status_code != 200:
                raise FirelineError(f"server refused lines from {rows[start][0]}: {response.text}")
            accepted += response.json()["accepted"]
            duplicates += response.json()["duplicates"]
            progress.advance(task, len(batch))
    console.print(f"{file}: {accepted} calls stored, {duplicates} already stored")


@app.command()
def tick(
    at: Annotated[
        datetime | None, typer.Option(help="Event time to detect up to (ISO 8601) [default: now]")
    ] = None,
) -> None:
    """Run detection once, up to now (or --at), and respond to what it finds."""
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
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List incidents, newest first."""
    with _fireline() as instance:
        found = instance.list_incidents(open_only=open_only)
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
    incident_id: Annotated[int, typer.Argument(help="Incident id")],
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
    incident_id: Annotated[int, typer.Argument(help="Incident id")],
    reason: Annotated[str, typer.Option(help="Why the incident is resolved")],
    actor: Annotated[str, typer.Option(help="Who resolves it")] = "cli",
) -> None:
    """Resolve an incident by hand and lift the guards it set."""
    with _fireline() as instance:
        found = instance.resolve(incident_id, actor=actor, reason=reason)
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
        if key not in ("scenario", "seed", "failures"):
            table.add_row(key.replace("_", " "), "—" if value is None else str(value))
    console.print(table)
    verdict = (
        "[green]PASSED[/green]"
        if card["passed"]
        else "[red]FAILED[/red]: " + "; ".join(card["failures"])
    )
    console.print(verdict)


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
    except FirelineError as error:
        errors.print(f"error: {error}", markup=False, highlight=False)
        sys.exit(1)
