"""Commands of the status area: the public status summary, updates, regulatory clocks."""

from __future__ import annotations

import getpass
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from fireline.cli._app import app, console, open_fireline, print_json
from fireline.clock import as_utc
from fireline.status.service import status_service
from fireline.status.summary import PublicStatus

status_app = typer.Typer(help="The public status page: its summary and published updates.")
app.add_typer(status_app, name="status")
regulatory_app = typer.Typer(help="Regulatory clocks: deadlines, reports sent, report drafts.")
app.add_typer(regulatory_app, name="regulatory")

_IncidentId = Annotated[int, typer.Argument(help="Incident id", min=1, max=2**31 - 1)]
_Actor = Annotated[str | None, typer.Option(help="Who acts [default: cli:$USER]")]


def _who(actor: str | None) -> str:
    return actor or f"cli:{getpass.getuser()}"


@status_app.command("summary")
def summary(
    as_json: Annotated[bool, typer.Option("--json", help="Print summary.json")] = False,
) -> None:
    """Show what the public status page shows now."""
    with open_fireline() as instance:
        document = status_service(instance).summary()
    if as_json:
        print_json(document)
        return
    console.print(f"{document['page']['name']}: {document['status']['description']}")
    table = Table("component", "status")
    for component in document["components"]:
        table.add_row(component["name"], component["status"])
    console.print(table)
    for incident in document["incidents"]:
        # Published text is the public's to read, not rich markup to interpret.
        line = f"incident {incident['id']} [{incident['impact']}] {incident['name']}"
        console.print(line, markup=False)
        for update in incident["incident_updates"]:
            text = f"  {update['created_at']} {update['status']}: {update['body']}"
            console.print(text, markup=False)


@status_app.command("publish")
def publish(
    incident_id: _IncidentId,
    body: Annotated[str, typer.Option(help="The text the public reads")],
    status: Annotated[
        PublicStatus | None,
        typer.Option(
            help="investigating, identified, monitoring or resolved "
            "[default: what the incident's state reads as]"
        ),
    ] = None,
    title: Annotated[str | None, typer.Option(help="The incident's public name")] = None,
    actor: _Actor = None,
) -> None:
    """Publish an update about an incident on the public status page."""
    with open_fireline() as instance:
        stored = status_service(instance).publish(
            incident_id, body=body, author=_who(actor), status=status, title=title
        )
    console.print(f"published update {stored.update_id} ({stored.status.value})")


@app.command()
def reportable(
    incident_id: _IncidentId,
    regime: Annotated[str, typer.Option(help="eu_ai_act, hipaa, data_breach or a configured one")],
    reason: Annotated[str, typer.Option(help="Why the incident must be reported")],
    variant: Annotated[
        str | None,
        typer.Option(help="eu_ai_act: death, widespread_infringement, critical_infrastructure"),
    ] = None,
    aware_at: Annotated[
        datetime | None, typer.Option(help="When awareness began (ISO 8601) [default: now]")
    ] = None,
    actor: _Actor = None,
) -> None:
    """Mark an incident reportable: start the regime's clock, on the timeline."""
    with open_fireline() as instance:
        clock = status_service(instance).mark_reportable(
            incident_id,
            regime=regime,
            variant=variant,
            reason=reason,
            actor=_who(actor),
            aware_at=as_utc(aware_at) if aware_at else None,
        )
    console.print(
        f"clock {clock.clock_id}: incident {incident_id} reportable under {clock.regime}"
        + (f" ({clock.variant})" if clock.variant else "")
        + f", due {clock.due_at:%Y-%m-%d %H:%M} UTC"
    )


@regulatory_app.command("clocks")
def clocks(
    all_clocks: Annotated[bool, typer.Option("--all", help="Include reported clocks")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List regulatory clocks, soonest due first, with overdue ones flagged."""
    with open_fireline() as instance:
        views = status_service(instance).clocks(open_only=not all_clocks)
        now = instance.clock.now()
    if as_json:
        print_json(
            [
                {
                    "id": v.clock.clock_id,
                    "incident_id": v.clock.incident_id,
                    "regime": v.clock.regime,
                    "variant": v.clock.variant,
                    "started_at": v.clock.started_at.isoformat(),
                    "due_at": v.clock.due_at.isoformat(),
                    "overdue": v.overdue,
                    "reported_at": v.clock.reported_at and v.clock.reported_at.isoformat(),
                }
                for v in views
            ]
        )
        return
    if not views:
        console.print("no open regulatory clocks" if not all_clocks else "no regulatory clocks")
        return
    table = Table("id", "incident", "regime", "variant", "due (UTC)", "left", "state")
    for v in views:
        hours = v.clock.remaining(now).total_seconds() / 3600
        state = (
            "reported" if not v.clock.is_open else ("[red]OVERDUE[/red]" if v.overdue else "open")
        )
        table.add_row(
            str(v.clock.clock_id),
            str(v.clock.incident_id),
            v.title,
            v.clock.variant or "",
            f"{v.clock.due_at:%Y-%m-%d %H:%M}",
            f"{hours:.0f} h",
            state,
        )
    console.print(table)


@regulatory_app.command("reported")
def reported(
    clock_id: Annotated[int, typer.Argument(help="Clock id", min=1, max=2**31 - 1)],
    actor: _Actor = None,
) -> None:
    """Stop a clock: the report was sent."""
    with open_fireline() as instance:
        clock = status_service(instance).mark_reported(clock_id, actor=_who(actor))
    console.print(f"clock {clock_id} stopped: {clock.regime} report sent")


@regulatory_app.command("report")
def report(
    incident_id: _IncidentId,
    regime: Annotated[
        str | None, typer.Option(help="[default: the incident's first clock]")
    ] = None,
) -> None:
    """Print a Markdown draft of the regulatory report of an incident."""
    with open_fireline() as instance:
        text = status_service(instance).report(incident_id, regime)
    typer.echo(text, nl=False)
