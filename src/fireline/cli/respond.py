"""Commands people use during an incident: assign, severity, note, move, checklist,
rollback and roll-forward; audit."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from rich.table import Table

from fireline.cli._app import app, console, open_fireline, print_json
from fireline.contain.controls import Controls, describe_controls
from fireline.domain.audit import verify
from fireline.domain.guard import ContainmentLevel, describe_fallback
from fireline.domain.incident import IncidentState
from fireline.domain.roles import ResponseRole
from fireline.domain.severity import Severity
from fireline.errors import FirelineError, InvalidInput, Problem
from fireline.respond.rollback import roll_back, roll_forward

IncidentArg = Annotated[int, typer.Argument(help="Incident id", min=1, max=2**31 - 1)]
ActorOpt = Annotated[str | None, typer.Option(help="Who acts [default: cli:$USER]")]

audit_app = typer.Typer(help="The tamper-evident audit log.")
app.add_typer(audit_app, name="audit")


def _who(actor: str | None) -> str:
    return actor or f"cli:{getpass.getuser()}"


@app.command()
def assign(
    incident_id: IncidentArg,
    role: Annotated[ResponseRole, typer.Argument(help="The response role")],
    person: Annotated[str, typer.Argument(help="Who takes it")],
    actor: ActorOpt = None,
) -> None:
    """Give a response role to a person; its current holder hands over."""
    with open_fireline() as instance, instance.acting() as tx:
        instance.actions.assign(tx, incident_id, role, person, actor=_who(actor))
    console.print(f"incident {incident_id}: {person} is {role.value.replace('_', ' ')}")


@app.command()
def severity(
    incident_id: IncidentArg,
    level: Annotated[Severity, typer.Argument(help="P0, P1, P2 or P3")],
    reason: Annotated[str, typer.Option(help="Why")],
    actor: ActorOpt = None,
) -> None:
    """Set an incident's severity by judgement, with the reason."""
    with open_fireline() as instance, instance.acting() as tx:
        found = instance.actions.set_severity(
            tx, incident_id, level, actor=_who(actor), reason=reason
        )
    console.print(f"incident {incident_id} is {found.severity} ({found.severity.label})")


@app.command()
def note(
    incident_id: IncidentArg,
    message: Annotated[str, typer.Argument(help="The note")],
    actor: ActorOpt = None,
) -> None:
    """Add a note to an incident's timeline."""
    with open_fireline() as instance, instance.acting() as tx:
        instance.actions.note(tx, incident_id, message, actor=_who(actor))
    console.print(f"incident {incident_id}: noted")


@app.command()
def move(
    incident_id: IncidentArg,
    state: Annotated[IncidentState, typer.Argument(help="The lifecycle state to move to")],
    reason: Annotated[str, typer.Option(help="Why")],
    actor: ActorOpt = None,
) -> None:
    """Move an incident along its lifecycle (only legal transitions)."""
    with open_fireline() as instance, instance.acting() as tx:
        found = instance.actions.move(tx, incident_id, state, actor=_who(actor), reason=reason)
    console.print(f"incident {incident_id} is {found.state}")


@app.command()
def checklist(
    incident_id: IncidentArg,
    done: Annotated[str | None, typer.Option(help="Mark this step done first")] = None,
    actor: ActorOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """The first-hour triage clock of an incident; overdue steps are flagged."""
    with open_fireline() as instance:
        if done is not None:
            with instance.acting() as tx:
                instance.actions.tick_step(tx, incident_id, done, actor=_who(actor))
        with instance.state.unit_of_work(read_only=True) as tx:
            steps = instance.actions.checklist(tx, incident_id)
    if as_json:
        print_json(
            [
                {
                    "step": s.step.name,
                    "title": s.step.title,
                    "due_at": s.due_at,
                    "done_at": s.done_at,
                    "overdue": s.overdue,
                }
                for s in steps
            ]
        )
        return
    table = Table("minutes", "step", "due", "status")
    for s in steps:
        status = (
            f"done {s.done_at:%H:%M}"
            if s.done_at
            else ("[red]OVERDUE[/red]" if s.overdue else "open")
        )
        table.add_row(
            f"{s.step.start_min}-{s.step.end_min}", s.step.title, f"{s.due_at:%H:%M}", status
        )
    console.print(table)


@audit_app.command("verify")
def verify_audit() -> None:
    """Check the hash chain of every timeline entry; exit 1 on any edited or removed entry."""
    with open_fireline() as instance, instance.state.unit_of_work(read_only=True) as tx:
        entries, head = tx.audit_chain()
    found = verify(entries, head)
    if not found.ok:
        raise FirelineError(
            f"audit log BROKEN ({found.checked} entries checked): " + "; ".join(found.problems)
        )
    extra = f", {found.unchained} written before the chain began" if found.unchained else ""
    console.print(f"audit log intact: {found.checked} entries chained{extra}")


KindOpt = Annotated[str, typer.Option(help="model, prompt or index")]


@app.command()
def rollback(
    feature: Annotated[str, typer.Argument(help="The feature")],
    kind: KindOpt,
    reason: Annotated[str, typer.Option(help="Why")],
    actor: ActorOpt = None,
) -> None:
    """Pin a feature's last known good model, prompt or index in its guard."""
    with open_fireline() as instance:
        guard = instance.pin(roll_back, feature, kind, actor=_who(actor), reason=reason)
    console.print(f"{feature}: {kind} pinned to {guard.routing[kind]}")


@app.command("roll-forward")
def roll_forward_command(
    feature: Annotated[str, typer.Argument(help="The feature")],
    kind: KindOpt,
    reason: Annotated[str, typer.Option(help="Why")],
    actor: ActorOpt = None,
) -> None:
    """Lift a rollback's pin: the feature uses its deployed version again."""
    with open_fireline() as instance:
        instance.pin(roll_forward, feature, kind, actor=_who(actor), reason=reason)
    console.print(f"{feature}: {kind} no longer pinned")


@app.command()
def contain(
    feature: Annotated[str, typer.Argument(help="The feature")],
    level: Annotated[
        int,
        typer.Argument(
            help="0 normal, 1 warn, 2 review, 3 fallback, 4 disabled, 5 full shutdown", min=0, max=5
        ),
    ],
    reason: Annotated[str, typer.Option(help="Why")],
    probe_share: Annotated[
        float | None, typer.Option(help="Share of requests still sent to the model (level 4+)")
    ] = None,
    throttle: Annotated[
        float | None, typer.Option(help="Share of requests the app may serve (0-1]")
    ] = None,
    segment: Annotated[
        list[str] | None,
        typer.Option(help="Narrow the guard to DIMENSION=VALUE (repeatable), e.g. tenant=acme"),
    ] = None,
    block_input: Annotated[
        list[str] | None, typer.Option(help="Refuse inputs matching this regex (repeatable)")
    ] = None,
    block_output: Annotated[
        list[str] | None, typer.Option(help="Withhold answers matching this regex (repeatable)")
    ] = None,
    actor: ActorOpt = None,
) -> None:
    """Set a feature's containment level by hand (approve a proposal, lift a guard), optionally
    narrowed to a segment, throttled, or with input/output filters."""
    controls = None
    if throttle is not None or segment or block_input or block_output:
        controls = Controls.of(
            throttle=throttle,
            segment=_pairs(segment or []),
            block_input=block_input,
            block_output=block_output,
        )
    with open_fireline() as instance, instance.acting() as tx:
        guard = instance.actions.set_guard(
            tx,
            feature,
            ContainmentLevel(level),
            actor=_who(actor),
            reason=reason,
            probe_share=probe_share,
            controls=controls,
        )
        routed = ""
        if guard.level == ContainmentLevel.FALLBACK:
            route = instance.config.containment.fallback_for(feature)
            routed = f" ({describe_fallback(route)})"
    console.print(
        f"{feature}: level {int(guard.level)} ({guard.level.description}){routed}"
        f"{describe_controls(guard)}"
    )


def _pairs(items: list[str]) -> dict[str, str]:
    """DIMENSION=VALUE options as a mapping; a malformed one is a clear error."""
    found: dict[str, str] = {}
    for item in items:
        dimension, sep, value = item.partition("=")
        if not sep or not dimension or not value:
            raise InvalidInput([Problem(None, "segment", f"{item!r} is not DIMENSION=VALUE")])
        found[dimension] = value
    return found
