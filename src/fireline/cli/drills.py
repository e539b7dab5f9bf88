"""The drill command: scenarios through the whole loop, scored; or a tabletop exercise."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress, TaskID
from rich.table import Table

from fireline.cli._app import app, console, errors, print_json
from fireline.errors import InvalidInput, Problem


@app.command()
def drill(
    scenario: Annotated[
        str | None,
        typer.Argument(help="A built-in scenario's name (e.g. provider-outage) or a YAML file"),
    ] = None,
    run_all: Annotated[bool, typer.Option("--all", help="Run every built-in scenario")] = False,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same drill")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the scorecards as JSON")] = False,
    tabletop: Annotated[
        bool, typer.Option("--tabletop", help="Walk a person through the scenario instead")
    ] = False,
    record: Annotated[
        Path | None, typer.Option(help="Tabletop: write the decisions and comparison here")
    ] = None,
    listing: Annotated[bool, typer.Option("--list", help="List the built-in scenarios")] = False,
) -> None:
    """Replay scenarios through the whole loop on a simulated clock and print their scorecards
    (exit code 1 when one fails); with --tabletop, walk a person through one instead."""
    from fireline.drill import bundled_scenarios, load_scenario, overall, run_drill

    if listing:
        _list_scenarios()
        return
    if (scenario is None) == (not run_all):
        message = "give one scenario (a name or a file) or --all, not both"
        raise InvalidInput([Problem(None, "scenario", message)])
    if tabletop:
        from fireline.drill.tabletop import tabletop as walk_through

        if scenario is None:
            raise InvalidInput([Problem(None, "scenario", "--tabletop takes one scenario")])
        raise typer.Exit(walk_through(scenario, console=console, record=record))
    specs = [load_scenario(name) for name in bundled_scenarios()] if run_all else []
    if scenario is not None:
        specs = [load_scenario(scenario)]
    cards = []
    with Progress(
        console=errors, transient=True, disable=as_json and not errors.is_terminal
    ) as bar:
        for spec in specs:
            task = bar.add_task(f"drill {spec.name}", total=1.0)

            def advance(done: float, task: TaskID = task) -> None:
                bar.update(task, completed=done)

            cards.append(run_drill(spec, seed=seed, progress=advance))
            bar.remove_task(task)
    summary = overall(cards)
    if as_json:
        payload: dict[str, Any] = {"scenarios": [c.to_dict() for c in cards], "overall": summary}
        print_json(payload)
    else:
        for card in cards:
            _print_scorecard(card.to_dict(), timeline=not run_all)
        if len(cards) > 1:
            _print_overall(summary)
    if not all(card.passed for card in cards):
        raise typer.Exit(1)


def _list_scenarios() -> None:
    from fireline.drill import bundled_scenarios, load_scenario

    table = Table("scenario", "expected", "description")
    for name in bundled_scenarios():
        spec = load_scenario(name)
        e = spec.expected
        expected = (
            f"{e.incident_type} {'/'.join(e.severity)} level {int(e.containment_level)}"
            if e
            else "no incident"
        )
        table.add_row(name, expected, " ".join(spec.description.split()))
    console.print(table)


#: Scorecard keys printed in the per-scenario table, in order.
_SHOWN = (
    "detected",
    "time_to_detect_s",
    "time_to_contain_s",
    "time_to_resolve_s",
    "incident_type",
    "type_correct",
    "severity",
    "severity_correct",
    "containment_level",
    "containment_correct",
    "containment_applied",
    "root_cause_rank",
    "blast_radius_precision",
    "blast_radius_recall",
    "false_alarms",
    "eval_cases",
    "review_drafted",
    "incidents",
    "calls_recorded",
    "requests_served_by_fallback",
    "requests_turned_away",
    "failed_requests_seen_by_users",
    "wall_seconds",
)


def _print_scorecard(card: dict[str, Any], *, timeline: bool) -> None:
    table = Table("", "", title=f"drill {card['scenario']} (seed {card['seed']})")
    for key in _SHOWN:
        value = card[key]
        table.add_row(key.replace("_", " "), "—" if value is None else str(value))
    console.print(table)
    if timeline and card["timeline"]:
        console.print("[bold]incident timeline[/bold] (simulated time)")
        for line in card["timeline"]:
            console.print(f"  {line}", markup=False, highlight=False)
    verdict = (
        "[green]PASSED[/green]"
        if card["passed"]
        else "[red]FAILED[/red]: " + "; ".join(card["failures"])
    )
    console.print(verdict, highlight=False)


def _print_overall(summary: dict[str, Any]) -> None:
    table = Table("", "", title="overall")
    for key, value in summary.items():
        table.add_row(key.replace("_", " "), "—" if value is None else str(value))
    console.print(table)
