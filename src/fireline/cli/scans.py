"""Commands about content scanning: scan (run it now) and hits (what it found)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from fireline.cli._app import app, console, open_fireline, print_json
from fireline.clock import SimulatedClock

scan_app = typer.Typer(help="Content scanners: run them, list what they found.")
app.add_typer(scan_app, name="scan")


@scan_app.command("run")
def run(
    at: Annotated[
        datetime | None,
        typer.Option(help="Scan calls up to this event time (ISO 8601) [default: now]"),
    ] = None,
) -> None:
    """Scan the stored calls not scanned yet (within the horizon before now, or --at)."""
    with open_fireline(SimulatedClock(at) if at else None) as instance:
        report = instance.scans.catch_up(instance.clock.now())
    console.print(
        f"scanned {report.scanned} call(s): {report.calls_with_hits} with hits"
        + "".join(f"\n  {kind}: {n}" for kind, n in sorted(report.hits.items()))
    )
    for scanner, n in sorted(report.errors.items()):
        console.print(f"[red]{scanner} failed on {n} call(s)[/red] (see the log)")


@scan_app.command("hits")
def hits(
    feature: Annotated[str | None, typer.Option(help="Only this feature")] = None,
    scanner: Annotated[str | None, typer.Option(help="Only this scanner")] = None,
    kind: Annotated[str | None, typer.Option(help="Only this kind of hit")] = None,
    since: Annotated[datetime | None, typer.Option(help="From this event time")] = None,
    until: Annotated[datetime | None, typer.Option(help="Before this event time")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="How many, newest first")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List scanner hits, newest first: the affected calls."""
    with open_fireline() as instance:
        found = instance.scans.store.list_hits(
            feature=feature, scanner=scanner, kind=kind, since=since, until=until, limit=limit
        )
    if as_json:
        print_json(
            [
                {
                    "call_id": item.call_id,
                    "time": item.time.isoformat(),
                    "feature": item.feature,
                    "scanner": item.hit.scanner,
                    "kind": item.hit.kind,
                    "part": item.hit.part.value,
                    "start": item.hit.start,
                    "end": item.hit.end,
                    "score": item.hit.score,
                    "detail": item.hit.detail,
                }
                for item in found
            ]
        )
        return
    if not found:
        console.print("no hits")
        return
    table = Table("time", "feature", "call", "scanner", "kind", "where", "score", "detail")
    for item in found:
        hit = item.hit
        where = hit.part.value if hit.start is None else f"{hit.part.value}[{hit.start}:{hit.end}]"
        table.add_row(
            item.time.strftime("%Y-%m-%d %H:%M:%S"),
            item.feature,
            item.call_id,
            hit.scanner,
            hit.kind,
            where,
            f"{hit.score:.2f}",
            hit.detail,
        )
    console.print(table)
