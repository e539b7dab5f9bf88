"""The post-incident review draft: what fireline knows about a resolved incident, laid out
for the people who write the review, with the questions only they can answer left open.
Pure: the facts come in, Markdown or HTML (Jinja2 templates, HTML autoescaped) comes out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import jinja2

from fireline.domain.alert import Alert
from fireline.domain.incident import Incident, IncidentState, TimelineEntry
from fireline.domain.severity import response_due
from fireline.domain.telemetry import Change, ChangeKind
from fireline.learn.actions import ActionItem
from fireline.learn.metrics import IncidentFacts, Metric, durations, format_duration, onset_of

#: A guard at this level or above is a kill switch: the feature is off.
KILL_SWITCH_LEVEL = 4
FOR_PEOPLE = "(to be answered by the review's authors)"
NOT_COMPUTED = "not computed: fireline has no count of affected calls for this incident"

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("fireline.learn", "templates"),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


@dataclass(frozen=True, slots=True)
class ReviewFacts:
    """What the review is drafted from, read from the stores by `fireline.learn.service`."""

    incident: Incident
    timeline: Sequence[TimelineEntry]
    alerts: Sequence[Alert]
    #: The newest change of the feature in the triage change window before detection.
    suspected_change: Change | None
    #: The feature's prompt changes recorded before detection, newest first.
    prompt_changes: Sequence[Change]
    actions: Sequence[ActionItem]
    change_window: timedelta
    generated_at: datetime
    notes: Sequence[str] = field(default_factory=tuple)


def _when(at: datetime | None) -> str:
    return "–" if at is None else at.strftime("%Y-%m-%d %H:%M:%S UTC")


def _onset(alerts: Sequence[Alert]) -> tuple[datetime | None, Alert | None]:
    if not alerts:
        return None, None
    first = min(alerts, key=lambda a: (a.fired_at, a.alert_id or 0))
    return onset_of(first.evidence, first.window_start), first


def _calls_affected(alerts: Sequence[Alert]) -> str:
    counts = [
        int(a.evidence["affected_calls"])
        for a in alerts
        if isinstance(a.evidence.get("affected_calls"), int | float)
    ]
    if counts:
        return f"{max(counts)} calls affected (the largest count an alert recorded)"
    seen = [int(a.evidence["calls"]) for a in alerts if isinstance(a.evidence.get("calls"), int)]
    lead = f" (the alert windows held up to {max(seen)} calls in all)" if seen else ""
    return NOT_COMPUTED + lead


def _verdict(done: datetime | None, due: datetime) -> str:
    if done is None:
        return "not acknowledged"
    if done <= due:
        return "met"
    return f"missed by {format_duration((done - due).total_seconds())}"


def _kill_switch(timeline: Sequence[TimelineEntry]) -> str:
    for entry in timeline:
        level = entry.data.get("level") if entry.kind == "guard_set" else None
        if isinstance(level, int) and level >= KILL_SWITCH_LEVEL:
            return f"Yes: {entry.actor} set the guard to level {level} at {_when(entry.at)}."
    return (
        "No guard at level 4 or above (feature disabled, full shutdown) is on the timeline. "
        "Was a kill switch available? " + FOR_PEOPLE
    )


def _prompt_versioned(facts: ReviewFacts) -> str:
    if facts.prompt_changes:
        newest = facts.prompt_changes[0]
        return (
            f"Prompt versions are recorded in the change log ({len(facts.prompt_changes)} "
            f"before detection; newest {newest.version} at {_when(newest.time)}). "
            "Were they tested before the change? " + FOR_PEOPLE
        )
    return "No prompt change of this feature is in fireline's change log. " + FOR_PEOPLE


def _questions(facts: ReviewFacts) -> list[dict[str, str]]:
    suspect = facts.suspected_change
    model = (
        f"The suspected change is a model change ({suspect.version}). " + FOR_PEOPLE
        if suspect is not None and suspect.kind is ChangeKind.MODEL
        else FOR_PEOPLE
    )
    retrieval = (
        f"An index change ({suspect.version}) is the suspected change. " + FOR_PEOPLE
        if suspect is not None and suspect.kind is ChangeKind.INDEX
        else FOR_PEOPLE
    )
    return [
        {"question": "Was the model evaluated on this input distribution?", "answer": model},
        {
            "question": "Were prompts versioned and tested before the change?",
            "answer": _prompt_versioned(facts),
        },
        {"question": "Did retrieval have quality monitoring?", "answer": retrieval},
        {
            "question": "Was a kill switch available and used?",
            "answer": _kill_switch(facts.timeline),
        },
    ]


def context(facts: ReviewFacts) -> dict[str, Any]:
    """Everything the templates show, as plain values."""
    incident = facts.incident
    detected = incident.detected_at
    resolved = incident.time_of(IncidentState.RESOLVED)
    onset, first = _onset(facts.alerts)
    measured = durations(IncidentFacts(incident, onset))
    due = response_due(incident.severity, detected)
    duration = None if resolved is None else (resolved - detected).total_seconds()
    change = facts.suspected_change
    return {
        "incident": {
            "id": incident.incident_id,
            "title": incident.title,
            "feature": incident.feature,
            "type": incident.type.value,
            "severity": incident.severity.value,
            "severity_label": incident.severity.label,
            "state": incident.state.value,
            "nist": incident.nist or "–",
        },
        "generated_at": _when(facts.generated_at),
        "detected": _when(detected),
        "resolved": _when(resolved),
        "duration": format_duration(duration),
        "timeline": [
            {"at": _when(e.at), "actor": e.actor, "kind": e.kind, "message": e.message}
            for e in facts.timeline
        ],
        "calls_affected": _calls_affected(facts.alerts),
        "change_window": format_duration(facts.change_window.total_seconds()),
        "suspected_change": None
        if change is None
        else {
            "id": change.change_id,
            "kind": change.kind.value,
            "version": change.version,
            "previous_version": change.previous_version or "–",
            "time": _when(change.time),
            "author": change.author or "–",
            "description": change.description or "",
        },
        "detection": {
            "onset": _when(onset),
            "first_alert": "–"
            if first is None
            else f"{_when(first.fired_at)} ({first.detector} on {first.signal})",
            "detected": _when(detected),
            "acknowledged": _when(incident.acknowledged_at),
            "mttd": format_duration(measured.get(Metric.MTTD)),
            "mtta": format_duration(measured.get(Metric.MTTA)),
        },
        "response": {
            "target": incident.severity.response_target,
            "due": _when(due),
            "acknowledgement": _verdict(incident.acknowledged_at, due),
            "mttc": format_duration(measured.get(Metric.MTTC)),
            "mttr": format_duration(measured.get(Metric.MTTR)),
            "severity_changes": sum(1 for e in facts.timeline if e.kind == "severity_set"),
        },
        "questions": _questions(facts),
        "actions": [
            {
                "id": a.item_id,
                "title": a.title,
                "category": a.category.value,
                "owner": a.owner or "unassigned",
                "due": _when(a.due),
                "status": a.status.value,
                "overdue": a.is_overdue(facts.generated_at),
            }
            for a in facts.actions
        ],
        "for_people": FOR_PEOPLE,
        "notes": list(facts.notes),
    }


def render_markdown(facts: ReviewFacts) -> str:
    """The review draft as Markdown."""
    return _ENV.get_template("review.md").render(context(facts))


def render_html(facts: ReviewFacts) -> str:
    """The review draft as an HTML page (every value escaped)."""
    return _ENV.get_template("review.html").render(context(facts))
