"""Commands of issue 8 (investigation): investigate, affected."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from fireline.cli._app import app, console, open_fireline, print_json
from fireline.investigate import Format, Investigation, investigator_for, lines

_IncidentId = Annotated[int, typer.Argument(help="Incident id", min=1, max=2**31 - 1)]


class ExportFormat(StrEnum):
    """The formats affected calls export to."""

    CSV = "csv"
    JSONL = "jsonl"


@app.command()
def investigate(
    incident_id: _IncidentId,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """When it started, which change is to blame, what affected calls share, how many."""
    with open_fireline() as instance, instance.state.unit_of_work(read_only=True) as tx:
        found = investigator_for(instance).investigate(tx, incident_id, instance.clock.now())
    if as_json:
        print_json(found.to_dict())
        return
    _print(found)


def _time(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"


def _number(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}g}" if value < 0.01 else f"{value:.2f}"


def _lift(value: float, baseline: int) -> str:
    """A lift, or "new" for a value the baseline never had."""
    return "new" if baseline == 0 else f"{value:.3g}"


def _print(found: Investigation) -> None:
    segment = ", ".join(f"{k}={v}" for k, v in found.segment.items())
    onset = found.onset
    console.print(
        f"[bold]incident {found.incident_id}[/bold]: {found.signal} on {found.feature}"
        + (f" ({segment})" if segment else "")
    )
    console.print(
        f"onset {_time(onset.at)} (between {_time(onset.low)} and {_time(onset.high)}, "
        f"{onset.method}, log-likelihood ratio {onset.llr:.1f}); "
        f"detected {_time(found.detected_at)}, delay {found.detection_delay_s / 60:.1f} min",
        highlight=False,
    )
    suspects = Table(title="suspects")
    suspects.add_column("change", no_wrap=True)
    for name in ("kind", "version", "min before", "bad on it", "baseline", "lift", "p", "rollback"):
        suspects.add_column(name)
    for s in found.suspects[:10]:
        c = s.concentration
        suspects.add_row(
            s.change.change_id,
            s.change.kind.value,
            f"{s.change.previous_version or '?'}→{s.change.version}",
            f"{s.gap_s / 60:.0f}",
            "-" if c is None else f"{c.share_bad:.0%}",
            "-" if c is None else f"{c.share_base:.0%}",
            _lift(c.lift, c.base_on_version) if c else "-",
            _number(None if c is None else c.p_value),
            s.rollback_target or "-",
        )
    console.print(suspects if found.suspects else "no changes before the onset")
    segments = Table("attribute", "value", "affected", "baseline", "lift", "q", title="in common")
    for f in [f for f in found.segments if f.significant][:15]:
        segments.add_row(
            f.dimension,
            f.value,
            f"{f.share_affected:.0%} ({f.affected})",
            f"{f.share_baseline:.0%} ({f.baseline})",
            _lift(f.lift, f.baseline),
            _number(f.q_value),
        )
    console.print(segments if segments.row_count else "no segment stands out")
    blast = found.blast
    console.print(
        f"blast radius: {blast.calls} calls, {blast.users} users, {blast.tenants} tenants, "
        f"{_time(blast.first)} to {_time(blast.last)}"
        + (" (live: the incident is open)" if blast.live else ""),
        highlight=False,
    )
    for note in found.notes:
        console.print(f"note: {note}", markup=False)


@app.command()
def affected(
    incident_id: _IncidentId,
    format: Annotated[ExportFormat, typer.Option("--format", help="csv or jsonl")] = (
        ExportFormat.CSV
    ),
    out: Annotated[Path | None, typer.Option(help="Write to this file [default: stdout]")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many calls")] = None,
) -> None:
    """Export an incident's affected calls as CSV or JSON Lines."""
    with open_fireline() as instance:
        with instance.state.unit_of_work(read_only=True) as tx:
            rows = investigator_for(instance).affected(tx, incident_id, instance.clock.now(), limit)
        chosen: Format = "csv" if format is ExportFormat.CSV else "jsonl"
        if out is None:
            sys.stdout.writelines(lines(rows, chosen))
            return
        count = -1 if chosen == "csv" else 0
        with out.open("w", encoding="utf-8", newline="") as file:
            for line in lines(rows, chosen):
                file.write(line)
                count += 1
    console.print(f"{count} affected calls written to {out}", markup=False)
