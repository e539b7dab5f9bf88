"""Commands of the oncall area: who is on call, overrides, pages, and `fireline ack`."""

from __future__ import annotations

import getpass
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from fireline.cli._app import app, console, open_fireline, print_json
from fireline.errors import InvalidInput, Problem
from fireline.oncall.schedule import Override
from fireline.oncall.wiring import paging_for

oncall_app = typer.Typer(help="On-call: who is on call, overrides of schedules, pages.")
app.add_typer(oncall_app, name="oncall")
override_app = typer.Typer(help="Overrides: someone taking a schedule's shift for a while.")
oncall_app.add_typer(override_app, name="override")

IncidentArg = Annotated[int, typer.Argument(help="Incident id", min=1, max=2**31 - 1)]
ActorOpt = Annotated[str | None, typer.Option(help="Who does it [default: cli:$USER]")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON")]


@oncall_app.command("now")
def now(
    schedule: Annotated[str | None, typer.Option(help="Only this schedule")] = None,
    at: Annotated[str | None, typer.Option(help="Another time, ISO 8601 with zone")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Who is on call now (or --at), on each schedule."""
    with open_fireline() as instance:
        when = _aware("--at", at) if at else instance.clock.now()
        paging = paging_for(instance)
        with instance.state.unit_of_work(read_only=True) as tx:
            found = paging.roster.on_call(tx, when, schedule)
    rows: list[dict[str, Any]] = [
        {
            "schedule": item.schedule.name,
            "person": item.on_call.person if item.on_call else None,
            "since": item.on_call.since if item.on_call else None,
            "until": item.on_call.until if item.on_call else None,
            "source": item.on_call.source if item.on_call else None,
        }
        for item in found
    ]
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("no schedules are configured (see the oncall section of fireline.yaml)")
        return
    table = Table("schedule", "on call", "since", "until", "by")
    for row in rows:
        table.add_row(
            row["schedule"],
            row["person"] or "[red]nobody[/red]",
            _when(row["since"]),
            _when(row["until"]),
            row["source"] or "",
        )
    console.print(table)


@override_app.command("add")
def override_add(
    schedule: Annotated[str, typer.Argument(help="Schedule name")],
    person: Annotated[str, typer.Argument(help="Who takes the shift")],
    end: Annotated[str, typer.Option(help="Until when, ISO 8601 with zone")],
    start: Annotated[str | None, typer.Option(help="From when [default: now]")] = None,
    reason: Annotated[str | None, typer.Option(help="Why")] = None,
    actor: ActorOpt = None,
) -> None:
    """Put PERSON on call on SCHEDULE until --end, over its rotations."""
    with open_fireline() as instance:
        clock_now = instance.clock.now()
        begin = _aware("--start", start) if start else clock_now
        wanted = Override(schedule, person.strip(), begin, _aware("--end", end), reason)
        paging = paging_for(instance)
        with instance.state.unit_of_work() as tx:
            added = paging.roster.add_override(tx, wanted, by=_who(actor), now=clock_now)
    console.print(
        f"override {added.override_id}: {added.person} on call on {added.schedule} "
        f"from {_when(added.start)} until {_when(added.end)}"
    )


@override_app.command("list")
def override_list(
    schedule: Annotated[str | None, typer.Option(help="Only this schedule")] = None,
    include_past: Annotated[bool, typer.Option("--all", help="Ended ones too")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List overrides current or to come, by start."""
    with open_fireline() as instance:
        paging = paging_for(instance)
        with instance.state.unit_of_work(read_only=True) as tx:
            found = paging.roster.overrides(
                tx, now=instance.clock.now(), schedule=schedule, include_past=include_past
            )
    rows: list[dict[str, Any]] = [
        {
            "id": o.override_id,
            "schedule": o.schedule,
            "person": o.person,
            "start": o.start,
            "end": o.end,
            "reason": o.reason,
            "created_by": o.created_by,
            "source": "file" if o.override_id is None else "api",
        }
        for o in found
    ]
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("no overrides")
        return
    table = Table("id", "schedule", "person", "from", "until", "by", "reason")
    for row in rows:
        table.add_row(
            str(row["id"] or "file"),
            row["schedule"],
            row["person"],
            _when(row["start"]),
            _when(row["end"]),
            row["created_by"] or "",
            row["reason"] or "",
        )
    console.print(table)


@override_app.command("remove")
def override_remove(
    override_id: Annotated[int, typer.Argument(help="Override id", min=1, max=2**31 - 1)],
    actor: ActorOpt = None,
) -> None:
    """Remove an override added through the API or CLI (it stays on record as removed)."""
    with open_fireline() as instance:
        paging = paging_for(instance)
        with instance.state.unit_of_work() as tx:
            removed = paging.roster.remove_override(
                tx, override_id, by=_who(actor), now=instance.clock.now()
            )
    console.print(f"override {override_id} of {removed.person} on {removed.schedule} removed")


@oncall_app.command("pages")
def pages(incident_id: IncidentArg, as_json: JsonOpt = False) -> None:
    """Show an incident's escalation and the pages sent for it."""
    with open_fireline() as instance:
        paging = paging_for(instance)
        with instance.state.unit_of_work(read_only=True) as tx:
            escalation, found = paging.status(tx, incident_id)
    if as_json:
        print_json(
            {
                "escalation": None if escalation is None else asdict(escalation),
                "pages": [asdict(p) for p in found],
            }
        )
        return
    if escalation is None:
        console.print(f"incident {incident_id} has not been paged")
        return
    state = (
        f"acknowledged by {escalation.acknowledged_by} at {_when(escalation.acknowledged_at)}"
        if escalation.acknowledged_at
        else "not acknowledged"
    )
    console.print(f"policy {escalation.policy}, tier {escalation.tier}, {state}")
    table = Table("page", "tier", "person", "target", "first sent", "last sent", "attempts")
    for p in found:
        table.add_row(
            str(p.page_id),
            str(p.tier),
            p.person or "[red]nobody[/red]",
            p.target,
            _when(p.created_at),
            _when(p.last_sent_at),
            str(p.attempts),
        )
    console.print(table)


@app.command("ack")
def ack(incident_id: IncidentArg, actor: ActorOpt = None) -> None:
    """Acknowledge an incident's pages: escalation and repeated pages stop."""
    with open_fireline() as instance:
        paging = paging_for(instance)
        with instance.state.unit_of_work() as tx:
            done = paging.acknowledge(tx, incident_id, who=_who(actor), via="cli")
    if done.already:
        console.print(f"incident {incident_id} was already acknowledged by {done.by}")
    else:
        console.print(f"incident {incident_id} acknowledged by {done.by}")


def _who(actor: str | None) -> str:
    return actor or f"cli:{getpass.getuser()}"


def _aware(option: str, text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput([Problem(None, option, f"'{text}' is not an ISO 8601 time")]) from None
    if value.tzinfo is None:
        raise InvalidInput([Problem(None, option, "give the time zone (e.g. 'Z' or '+01:00')")])
    return value


def _when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M %Z")
