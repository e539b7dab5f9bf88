"""Commands of issue 8 (learning): metrics and their trend plot, action items, and the
post-incident review draft and its acceptance."""

from __future__ import annotations

import getpass
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from fireline.cli._app import app, console, open_fireline, print_json
from fireline.clock import as_utc
from fireline.learn.actions import ActionCategory, ActionChange, ActionItem, ActionStatus
from fireline.learn.metrics import Metric, Period, format_duration
from fireline.learn.service import LearningService
from fireline.learn.trend import TrendSeries, trend_svg

action_app = typer.Typer(help="Action items of incidents: add, list, update, mark done.")
app.add_typer(action_app, name="action")

_IncidentId = Annotated[int, typer.Argument(help="Incident id", min=1, max=2**31 - 1)]
_ActionId = Annotated[int, typer.Argument(help="Action item id", min=1, max=2**31 - 1)]
_Actor = Annotated[str | None, typer.Option(help="Who acts [default: cli:$USER]")]
_When = Annotated[datetime | None, typer.Option(help="ISO 8601, UTC if no offset is given")]


def _who(actor: str | None) -> str:
    return actor or f"cli:{getpass.getuser()}"


def _utc(when: datetime | None) -> datetime | None:
    return None if when is None else as_utc(when)


@app.command()
def metrics(
    period: Annotated[Period, typer.Option(help="month or quarter (calendar, UTC)")] = Period.MONTH,
    since: _When = None,
    until: _When = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    plot: Annotated[
        Path | None, typer.Option(help="Write an SVG trend plot of --metric to this file")
    ] = None,
    metric: Annotated[TrendSeries, typer.Option(help="What --plot shows")] = TrendSeries.MTTR,
) -> None:
    """Show MTTD, MTTA, MTTC and MTTR (median and mean, with counts) per period."""
    with open_fireline() as instance:
        found = LearningService(instance).metrics(period, since=_utc(since), until=_utc(until))
    if plot is not None:
        plot.write_text(trend_svg(found, metric), encoding="utf-8")
    if as_json:
        print_json(found.to_json())
        return
    table = Table(period.value, "incidents", "recurring", *(m.value.upper() for m in Metric))
    for bucket in [*found.buckets, found.total]:
        cells = [
            f"{format_duration(s.median_s)} / {format_duration(s.mean_s)} (n={s.count})"
            for s in bucket.metrics.values()
        ]
        table.add_row(bucket.label, str(bucket.incidents), str(bucket.recurrences), *cells)
    console.print(table)
    console.print("durations: median / mean (n = incidents measured)", highlight=False)
    if plot is not None:
        console.print(f"wrote {plot}", markup=False, highlight=False)


def _action_json(item: ActionItem, now: datetime) -> dict[str, Any]:
    return {
        "id": item.item_id,
        "incident_id": item.incident_id,
        "title": item.title,
        "category": item.category.value,
        "owner": item.owner,
        "due": item.due.isoformat() if item.due else None,
        "status": item.status.value,
        "note": item.note,
        "created_by": item.created_by,
        "created_at": item.created_at.isoformat(),
        "updated_at": item.updated_at.isoformat(),
        "overdue": item.is_overdue(now),
    }


@action_app.command("add")
def action_add(
    incident_id: _IncidentId,
    title: Annotated[str, typer.Option(help="What will be done")],
    category: Annotated[
        ActionCategory,
        typer.Option(help="detection, prevention, response, documentation or training"),
    ],
    owner: Annotated[str | None, typer.Option(help="Who does it")] = None,
    due: _When = None,
    note: Annotated[str | None, typer.Option(help="A note")] = None,
    actor: _Actor = None,
) -> None:
    """Add an action item to an incident (on its timeline)."""
    with open_fireline() as instance:
        item = LearningService(instance).add_action(
            incident_id,
            title=title,
            category=category,
            actor=_who(actor),
            owner=owner,
            due=_utc(due),
            note=note,
        )
    console.print(f"action item {item.item_id} added to incident {incident_id}", highlight=False)


@action_app.command("list")
def action_list(
    overdue: Annotated[bool, typer.Option("--overdue", help="Only open items past due")] = False,
    incident: Annotated[
        int | None, typer.Option(help="Only this incident's items", min=1, max=2**31 - 1)
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List action items, oldest first."""
    with open_fireline() as instance:
        items = LearningService(instance).actions(incident_id=incident, overdue=overdue)
        now = instance.clock.now()
    if as_json:
        print_json([_action_json(i, now) for i in items])
        return
    table = Table("id", "incident", "title", "category", "owner", "due", "status")
    for item in items:
        due = f"{item.due:%Y-%m-%d %H:%M}" if item.due else "–"
        status = item.status.value + (" (overdue)" if item.is_overdue(now) else "")
        table.add_row(
            str(item.item_id),
            str(item.incident_id),
            item.title,
            item.category.value,
            item.owner or "–",
            due,
            status,
        )
    console.print(table)


@action_app.command("done")
def action_done(action_id: _ActionId, actor: _Actor = None) -> None:
    """Mark an action item done (on its incident's timeline)."""
    with open_fireline() as instance:
        LearningService(instance).done(action_id, actor=_who(actor))
    console.print(f"action item {action_id} done", highlight=False)


@action_app.command("update")
def action_update(
    action_id: _ActionId,
    status: Annotated[
        ActionStatus | None, typer.Option(help="open, in_progress, done or wont_do")
    ] = None,
    owner: Annotated[str | None, typer.Option(help="Who does it")] = None,
    due: _When = None,
    note: Annotated[str | None, typer.Option(help="A note")] = None,
    actor: _Actor = None,
) -> None:
    """Change an action item's status, owner, due time or note (on the timeline)."""
    change = ActionChange(status=status, owner=owner, due=_utc(due), note=note)
    with open_fireline() as instance:
        item = LearningService(instance).update_action(action_id, change, actor=_who(actor))
    console.print(f"action item {action_id}: {item.status.value}", highlight=False)


@app.command("review-draft")
def review_draft(
    incident_id: _IncidentId,
    html: Annotated[bool, typer.Option("--html", help="HTML instead of Markdown")] = False,
    out: Annotated[Path | None, typer.Option(help="Write to this file")] = None,
) -> None:
    """Draft the post-incident review of a resolved incident. With --out, a Markdown draft's
    plot of the alerting signal is written next to it (NAME-signal.svg); HTML embeds it."""
    plot = None if out is None else out.with_name(f"{out.stem}-signal.svg")
    with open_fireline() as instance:
        service = LearningService(instance)
        if html or plot is None:
            text, svg = service.review(incident_id, html=html), None
        else:
            text, svg = service.review_files(incident_id, plot_name=plot.name)
    if out is None:
        sys.stdout.write(text)
        return
    out.write_text(text, encoding="utf-8")
    console.print(f"wrote {out}", markup=False, highlight=False)
    if svg is not None and plot is not None:
        plot.write_text(svg, encoding="utf-8")
        console.print(f"wrote {plot}", markup=False, highlight=False)


@app.command("review-accept")
def review_accept(
    incident_id: _IncidentId,
    note: Annotated[str | None, typer.Option(help="A note on the timeline")] = None,
    actor: _Actor = None,
) -> None:
    """Accept an incident's review as its commander: resolved → reviewed."""
    with open_fireline() as instance:
        LearningService(instance).accept_review(incident_id, actor=_who(actor), note=note)
    console.print(f"incident {incident_id} reviewed", highlight=False)
