"""The automatic steps a playbook may name: each really acts, in the incident's transaction.

| action | what it does |
| --- | --- |
| `note` | puts the step's guidance (or `args.message`) on the timeline |
| `propose_level` | proposes a containment level to the commander (`containment_proposed`) |
| `attach_investigation` | records the alerts' onset, segment and the deploys before detection |
| `draft_message` | renders one of the playbook's templates onto the timeline as a draft |
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from fireline.contain.policy import Strategy
from fireline.domain.guard import ContainmentLevel
from fireline.domain.incident import Incident, TimelineEntry
from fireline.playbooks import messages
from fireline.playbooks.model import Playbook, Step
from fireline.store.state import StateTx


@dataclass(frozen=True, slots=True)
class Context:
    """What an action works on: the transaction, the incident and its playbook."""

    tx: StateTx
    incident: Incident
    playbook: Playbook
    now: datetime
    #: Seconds before detection in which a deploy is a suspect (the triage policy's window).
    change_window_s: float = 3600.0

    @property
    def actor(self) -> str:
        return f"playbook:{self.playbook.id}"

    def log(self, kind: str, message: str, data: Mapping[str, Any]) -> None:
        assert self.incident.incident_id is not None
        self.tx.append_timeline(
            TimelineEntry(self.incident.incident_id, self.now, self.actor, kind, message, data)
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an action did, for the step's timeline entry."""

    message: str
    data: Mapping[str, Any] = field(default_factory=dict)


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoteArgs(_Args):
    message: Annotated[str, Field(min_length=1)] | None = None


class ProposeArgs(_Args):
    #: By default the playbook's recommended level.
    level: Annotated[int, Field(ge=1, le=5)] | None = None
    strategy: Strategy | None = None


class InvestigationArgs(_Args):
    pass


class DraftArgs(_Args):
    template: Literal["internal", "status_page", "customer"]


def note(ctx: Context, step: Step, args: NoteArgs) -> Outcome:
    """The guidance itself is the step's entry: people read it on the timeline."""
    return Outcome(args.message or step.details.strip() or step.title)


def propose_level(ctx: Context, step: Step, args: ProposeArgs) -> Outcome:
    """Propose the level to the commander unless the guard holds it or it was proposed."""
    level = ContainmentLevel(args.level or ctx.playbook.containment.level)
    strategy = args.strategy or ctx.playbook.containment.strategy
    guard = ctx.tx.get_guard(ctx.incident.feature)
    if guard.level >= level:
        return Outcome(f"guard already at level {int(guard.level)}, nothing to propose")
    assert ctx.incident.incident_id is not None
    if any(
        e.kind == "containment_proposed" and e.data.get("level") == int(level)
        for e in ctx.tx.timeline(ctx.incident.incident_id)
    ):
        return Outcome(f"level {int(level)} was proposed already")
    why = ctx.playbook.containment.why or ctx.playbook.title
    ctx.log(
        "containment_proposed",
        f"level {int(level)} ({level.description}) proposed by playbook {ctx.playbook.id}, "
        f"needs the commander: {why}; strategy {strategy}",
        {"level": int(level), "strategy": strategy, "playbook": ctx.playbook.id},
    )
    return Outcome(f"level {int(level)} proposed", {"level": int(level)})


def attach_investigation(ctx: Context, step: Step, args: InvestigationArgs) -> Outcome:
    """What the alerts say of onset and segment, and the deploys shortly before detection."""
    incident = ctx.incident
    alerts = ctx.tx.alerts(incident_id=incident.incident_id)
    parts = []
    onsets = []
    for alert in alerts:
        onset = alert.evidence.get("onset")
        onsets.append(onset if isinstance(onset, str) else alert.window_start.isoformat())
        where = "".join(f", {k} {v}" for k, v in sorted(alert.segment.items()))
        parts.append(f"{alert.signal}{where}")
    since = incident.detected_at - timedelta(seconds=ctx.change_window_s)
    changes = ctx.tx.list_changes(feature=incident.feature, since=since, until=incident.detected_at)
    deploys = [f"{c.kind} {c.version} at {c.time.isoformat()}" for c in changes]
    message = (
        f"alerts: {'; '.join(parts) or 'none'}; onset {min(onsets) if onsets else 'unknown'}; "
        f"deploys in the {int(ctx.change_window_s // 60)} min before detection: "
        f"{'; '.join(deploys) or 'none'}"
    )
    return Outcome(
        message,
        {"onset": min(onsets) if onsets else None, "changes": [c.change_id for c in changes]},
    )


def draft_message(ctx: Context, step: Step, args: DraftArgs) -> Outcome:
    """Render the template with the incident as it stands and put the draft on the record."""
    text = messages.render(
        ctx.playbook.templates[args.template],
        messages.context(ctx.incident, {"id": ctx.playbook.id, "title": ctx.playbook.title}),
    )
    ctx.log(
        "message_drafted",
        text,
        {"template": args.template, "playbook": ctx.playbook.id},
    )
    return Outcome(f"{args.template.replace('_', ' ')} draft on the timeline")


@dataclass(frozen=True, slots=True)
class Action:
    """An automatic step: its arguments' model and what it does."""

    args: type[_Args]
    run: Callable[[Context, Step, Any], Outcome]


ACTIONS: Mapping[str, Action] = {
    "note": Action(NoteArgs, note),
    "propose_level": Action(ProposeArgs, propose_level),
    "attach_investigation": Action(InvestigationArgs, attach_investigation),
    "draft_message": Action(DraftArgs, draft_message),
}


def run_step(ctx: Context, step: Step) -> Outcome:
    """Run an automatic step (its action and arguments were checked when it was loaded)."""
    assert step.automatic is not None
    action = ACTIONS[step.automatic]
    return action.run(ctx, step, action.args.model_validate(step.args))


__all__ = ["ACTIONS", "Action", "Context", "Outcome", "run_step"]
