"""Commands about incidents and guards: tick, incidents, incident, resolve, guards."""

from __future__ import annotations

import getpass
from datetime import datetime, timedelta
from typing import Annotated, Any

import typer
from rich.table import Table

from fireline.cli._app import app, console, open_fireline, print_json
from fireline.clock import SimulatedClock, WallClock, as_utc
from fireline.domain.incident import Incident
from fireline.domain.severity import response_due
from fireline.errors import InvalidInput, Problem


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
    with open_fireline(SimulatedClock(at) if at else None) as instance:
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
    with open_fireline() as instance:
        found = instance.list_incidents(open_only=open_only, limit=limit)
    if as_json:
        print_json([_incident_dict(i) for i in found])
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
    with open_fireline() as instance, instance.state.unit_of_work() as tx:
        found = tx.get_incident(incident_id)
        entries = tx.timeline(incident_id)
        steps = instance.actions.checklist(tx, incident_id)
        roles = tx.roles(incident_id)
    if as_json:
        print_json(
            {
                **_incident_dict(found),
                "timeline": [
                    {
                        "at": e.at,
                        "actor": e.actor,
                        "kind": e.kind,
                        "message": e.message,
                        "data": dict(e.data),
                    }
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
    if roles:
        console.print("roles: " + ", ".join(f"{a.role.value} {a.person}" for a in roles))
    if found.is_open:
        console.print(
            "first hour: "
            + "; ".join(
                f"{s.step.title} "
                + ("done" if s.done_at else ("[red]OVERDUE[/red]" if s.overdue else "open"))
                for s in steps
            )
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
    with open_fireline() as instance:
        who = actor or f"cli:{getpass.getuser()}"
        found = instance.resolve(incident_id, actor=who, reason=reason)
    console.print(f"incident {found.incident_id} resolved")


@app.command()
def guards(as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """List the guards of every feature that has one."""
    with open_fireline() as instance:
        found = instance.guards()
    if as_json:
        print_json(
            [
                {
                    "feature": g.feature,
                    "level": int(g.level),
                    "enabled": g.enabled,
                    "reason": g.reason,
                    "incident_id": g.incident_id,
                    "fallback": dict(g.fallback),
                }
                for g in found
            ]
        )
        return
    table = Table("feature", "level", "enabled", "incident", "fallback", "reason")
    for g in found:
        table.add_row(
            g.feature,
            f"{int(g.level)} {g.level.slug}",
            str(g.enabled),
            str(g.incident_id or ""),
            ", ".join(f"{k}={v}" for k, v in g.fallback.items()),
            g.reason or "",
        )
    console.print(table)


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
