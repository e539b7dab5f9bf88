"""Commands of issue 8 (regression evals): `fireline eval extract` and `fireline eval run`."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fireline.cli._app import app, console, errors, open_fireline, print_json
from fireline.errors import InvalidInput, Problem
from fireline.evals import (
    CallableTarget,
    EvalReport,
    HttpTarget,
    dump,
    extract_for,
    lines,
    load,
    load_callable,
    run_cases,
)
from fireline.evals.diversity import MAX_CASES, MIN_CASES
from fireline.respond.restoring import record_evals_run

evals = typer.Typer(
    name="eval",
    help="Regression evals from incidents: extract cases, replay them against a target.",
    no_args_is_help=True,
)
app.add_typer(evals)

_IncidentId = Annotated[int, typer.Argument(help="Incident id", min=1, max=2**31 - 1)]


@evals.command("extract")
def extract_command(
    incident_id: _IncidentId,
    out: Annotated[Path | None, typer.Option(help="Write to this file [default: stdout]")] = None,
    max_cases: Annotated[
        int, typer.Option("--max", min=1, max=MAX_CASES, help="At most this many cases")
    ] = MAX_CASES,
) -> None:
    """Extract diverse eval cases from an incident's affected calls, as JSON Lines."""
    with open_fireline() as instance:
        found = extract_for(instance, incident_id, low=min(MIN_CASES, max_cases), high=max_cases)
    if out is None:
        sys.stdout.writelines(lines(found.cases))
        errors.print(found.summary(), markup=False, highlight=False)
    else:
        dump(found.cases, out)
        console.print(f"{found.summary()}; written to {out}", markup=False, highlight=False)
    for note in found.notes:
        errors.print(f"note: {note}", markup=False, highlight=False)


@evals.command("run")
def run_command(
    file: Annotated[Path, typer.Argument(help="Case file (JSON Lines)")],
    endpoint: Annotated[str | None, typer.Option(help="OpenAI-compatible base URL (…/v1)")] = None,
    model: Annotated[str | None, typer.Option(help="Model name sent to the endpoint")] = None,
    api_key_env: Annotated[
        str | None, typer.Option(help="Environment variable holding the API key")
    ] = None,
    call: Annotated[
        str | None, typer.Option("--callable", help="A Python target: module:function")
    ] = None,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds per request")] = 30.0,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Requests at once")] = 4,
    min_pass_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Exit 1 below this pass rate")
    ] = 1.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    incident: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Record the run on this incident's timeline (a staged restoration with "
            "require_evals waits for a passing one)",
        ),
    ] = None,
    actor: Annotated[str | None, typer.Option(help="Who runs it [default: cli:$USER]")] = None,
) -> None:
    """Replay the cases against a target and report the pass rate (exit 1 below
    --min-pass-rate, so it can gate CI)."""
    cases = load(file)
    if not cases:
        raise InvalidInput([Problem(None, None, "the case file has no cases")], str(file))
    if (endpoint is None) == (call is None):
        raise _usage("give one target: --endpoint URL --model M, or --callable module:function")
    if call is not None:
        report = run_cases(cases, CallableTarget(load_callable(call)), min_pass_rate=min_pass_rate)
    else:
        if not model:
            raise _usage("--endpoint needs --model")
        assert endpoint is not None
        with HttpTarget(
            endpoint,
            model,
            api_key_env=api_key_env,
            timeout_s=timeout,
            concurrency=concurrency,
        ) as target:
            report = run_cases(cases, target, min_pass_rate=min_pass_rate)
    if incident is not None:
        with open_fireline() as instance, instance.acting() as tx:
            record_evals_run(
                tx,
                incident,
                pass_rate=report.pass_rate,
                cases=report.total,
                min_pass_rate=min_pass_rate,
                target=endpoint or str(call),
                actor=actor or f"cli:{getpass.getuser()}",
                at=instance.clock.now(),
            )
    if as_json:
        print_json(report.to_dict())
    else:
        _print(report)
    if not report.ok:
        raise typer.Exit(1)


def _usage(message: str) -> InvalidInput:
    return InvalidInput([Problem(None, None, message)])


def _print(report: EvalReport) -> None:
    failed = [r for r in report.results if not r.passed]
    if failed:
        table = Table("case", "failed", "why", title="failing cases")
        for result in failed[:30]:
            why = "; ".join(f.reason for f in result.failures)
            table.add_row(result.case_id, ", ".join(f.kind for f in result.failures), why)
        console.print(table)
    per_kind = ", ".join(f"{k} {n}" for k, n in sorted(report.failures.items())) or "none"
    console.print(
        f"pass rate {report.pass_rate:.0%} ({report.passed}/{report.total} cases; "
        f"minimum {report.min_pass_rate:.0%}); failures by assertion: {per_kind}",
        markup=False,
        highlight=False,
    )
    if report.skipped:
        skipped = ", ".join(f"{k} {n}" for k, n in sorted(report.skipped.items()))
        console.print(f"not checked (not reported by the target): {skipped}", markup=False)
