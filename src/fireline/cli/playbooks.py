"""`fireline playbook`: the runbooks in use, and an incident's playbook checklist."""

from __future__ import annotations

import getpass
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from fireline.cli._app import app, console, open_fireline, print_json
from fireline.playbooks.engine import Attached
from fireline.playbooks.model import Playbook, Section
from fireline.playbooks.service import playbook_service

playbook_app = typer.Typer(help="Playbooks: the field's runbooks, attached to incidents.")
app.add_typer(playbook_app, name="playbook")

_IncidentId = Annotated[int, typer.Argument(help="Incident id", min=1, max=2**31 - 1)]
_Json = Annotated[bool, typer.Option("--json", help="Print JSON")]


def _checklist_json(found: Attached) -> dict[str, Any]:
    return {
        "incident_id": found.incident.incident_id,
        "playbook": found.playbook.id,
        "title": found.playbook.title,
        "attached_at": found.attached_at.isoformat(),
        "steps": [
            {
                "id": s.step.id,
                "title": s.step.title,
                "section": s.step.section.value,
                "automatic": s.step.automatic,
                "done": s.done,
                "done_by": s.done_by,
                "done_at": s.done_at and s.done_at.isoformat(),
            }
            for s in found.steps
        ],
        "messages": found.messages(),
    }


@playbook_app.command("list")
def list_playbooks(as_json: _Json = False) -> None:
    """List the playbooks in use: built in, and from the configured directory."""
    with open_fireline() as instance:
        service = playbook_service(instance)
        found = [(p, service.origin(p.id)) for p in service.playbooks()]
    if as_json:
        print_json(
            [
                {"id": p.id, "title": p.title, "origin": origin, "priority": p.priority}
                for p, origin in found
            ]
        )
        return
    table = Table("id", "title", "types", "signals", "origin")
    for playbook, origin in found:
        detection = playbook.detection
        table.add_row(
            playbook.id,
            Text(playbook.title),
            ", ".join(detection.incident_types) or "any",
            Text(", ".join(detection.signals)),
            Text(origin),
        )
    console.print(table)


@playbook_app.command("show")
def show(
    playbook_id: Annotated[str, typer.Argument(help="Playbook id, e.g. pii-leak")],
    as_json: _Json = False,
) -> None:
    """Show one playbook: detection, severity guidance, containment, steps, templates."""
    with open_fireline() as instance:
        playbook = playbook_service(instance).get(playbook_id)
    if as_json:
        print_json(playbook.model_dump(mode="json"))
        return
    console.print("\n".join(_describe(playbook)), markup=False, highlight=False)


def _describe(playbook: Playbook) -> list[str]:
    detection, guide = playbook.detection, playbook.containment
    lines = [
        f"{playbook.id} · {playbook.title}",
        playbook.summary.strip(),
        "",
        f"detection: {detection.description.strip()}",
        f"  types: {', '.join(detection.incident_types) or 'any'}; "
        f"signals: {', '.join(detection.signals) or '-'}; "
        f"segments: {', '.join(detection.segments) or '-'}",
        f"severity: usually {'-'.join(s.value for s in playbook.severity.typical)}",
        *(f"  {g.severity}: {g.when}" for g in playbook.severity.guidance),
        f"containment: level {guide.level}, {guide.strategy.replace('_', ' ')}: {guide.why}",
    ]
    for section in Section:
        steps = playbook.in_section(section)
        if steps:
            lines += ["", f"{section.value}:"]
            for step in steps:
                auto = f"  [automatic: {step.automatic}]" if step.automatic else ""
                lines.append(f"  {step.id}: {step.title}{auto}")
    if playbook.templates:
        lines += ["", f"templates: {', '.join(playbook.templates)}"]
    return lines


def _print_checklist(found: Attached) -> None:
    console.print(
        f"incident {found.incident.incident_id} · playbook {found.playbook.id} "
        f"({found.playbook.title}) · {found.done}/{len(found.steps)} steps done",
        markup=False,
        highlight=False,
    )
    table = Table("", "step", "section", "title", "done by")
    for state in found.steps:
        table.add_row(
            "✓" if state.done else "·",
            state.step.id,
            state.step.section.value,
            Text(state.step.title),
            Text(state.done_by or ""),
        )
    console.print(table)


@playbook_app.command("incident")
def incident(
    incident_id: _IncidentId,
    as_json: _Json = False,
    messages: Annotated[bool, typer.Option(help="Print the rendered message templates")] = False,
) -> None:
    """Show an incident's playbook checklist (and, with --messages, its rendered templates)."""
    with open_fireline() as instance:
        found = playbook_service(instance).for_incident(incident_id)
    if as_json:
        print_json(_checklist_json(found))
        return
    _print_checklist(found)
    if messages:
        for name, text in found.messages().items():
            console.print(f"\n--- {name} ---\n{text}", markup=False, highlight=False, end="")


@playbook_app.command("attach")
def attach(
    incident_id: _IncidentId,
    playbook: Annotated[str | None, typer.Option(help="Playbook id [default: best match]")] = None,
    actor: Annotated[str | None, typer.Option(help="Who attaches [default: cli:$USER]")] = None,
) -> None:
    """Attach a playbook to an open incident that has none, and run its automatic steps."""
    with open_fireline() as instance:
        found = playbook_service(instance).attach(
            incident_id, actor=actor or f"cli:{getpass.getuser()}", playbook_id=playbook
        )
    _print_checklist(found)


@playbook_app.command("tick")
def tick(
    incident_id: _IncidentId,
    step: Annotated[str, typer.Argument(help="Step id, as `fireline playbook incident` shows")],
    actor: Annotated[str | None, typer.Option(help="Who did it [default: cli:$USER]")] = None,
) -> None:
    """Mark a step of an incident's playbook done."""
    with open_fireline() as instance:
        found = playbook_service(instance).tick(
            incident_id, step, actor=actor or f"cli:{getpass.getuser()}"
        )
    console.print(
        f"incident {incident_id}: {step} done ({found.done}/{len(found.steps)} steps)",
        markup=False,
    )
