"""The drill command."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.progress import Progress
from rich.table import Table

from fireline.cli._app import app, console, errors, print_json
from fireline.errors import InvalidInput, Problem


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
        print_json(card.to_dict())
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
