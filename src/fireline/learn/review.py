"""The post-incident review draft: what fireline knows about a resolved incident, laid out
for the people who write the review, with the questions only they can answer left open.
Pure: the facts come in, Markdown or HTML (Jinja2 templates, HTML autoescaped) comes out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import jinja2
from markupsafe import Markup

from fireline.domain.alert import Alert
from fireline.domain.incident import Incident, IncidentState, TimelineEntry
from fireline.domain.severity import response_due
from fireline.domain.telemetry import Change, ChangeKind
from fireline.investigate.report import Investigation
from fireline.investigate.segments import SegmentFinding
from fireline.investigate.suspects import Suspect
from fireline.learn.actions import ActionItem
from fireline.learn.metrics import IncidentFacts, Metric, durations, format_duration, onset_of
from fireline.learn.signal import SignalSeries, signal_svg

#: A guard at this level or above is a kill switch: the feature is off.
KILL_SWITCH_LEVEL = 4
FOR_PEOPLE = "(to be answered by the review's authors)"
NOT_COMPUTED = "not computed: fireline has no count of affected calls for this incident"
#: How many suspects and segments in common the draft lists.
TOP_SUSPECTS = 3
TOP_SEGMENTS = 5

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
    #: What `fireline.investigate` found; None when it failed (see `investigation_problem`).
    investigation: Investigation | None = None
    investigation_problem: str = "investigation was not run"
    #: The alerting signal(s) per minute around the incident, for the plot.
    signals: Sequence[SignalSeries] = field(default_factory=tuple)
    signals_problem: str = "no signal was read"
    #: Evidence that retrieval was monitored: grounding/index-related alerts and scanner hits
    #: on the feature, one line each.
    retrieval_monitoring: Sequence[str] = field(default_factory=tuple)


def _when(at: datetime | None) -> str:
    return "–" if at is None else at.strftime("%Y-%m-%d %H:%M:%S UTC")


def _onset(alerts: Sequence[Alert]) -> tuple[datetime | None, Alert | None]:
    if not alerts:
        return None, None
    first = min(alerts, key=lambda a: (a.fired_at, a.alert_id or 0))
    return onset_of(first.evidence, first.window_start), first


def _estimated(facts: ReviewFacts) -> Investigation | None:
    """The investigation, when its onset is a change point of the signal."""
    found = facts.investigation
    return found if found is not None and found.onset.method == "change_point" else None


def _when_onset(facts: ReviewFacts) -> tuple[datetime | None, str]:
    """The onset the draft uses and what it comes from."""
    found = _estimated(facts)
    if found is not None:
        onset = found.onset
        return onset.at, (
            f"{_when(onset.at)} (estimated from the signal: 95 % interval {_when(onset.low)} "
            f"to {_when(onset.high)}; change point with log-likelihood ratio {onset.llr:.1f}"
            + (
                f"; {found.signal} {_level(onset.before)} before, {_level(onset.after)} after"
                if onset.before is not None and onset.after is not None
                else ""
            )
            + ")"
        )
    alert_onset, _ = _onset(facts.alerts)
    why = (
        "the signal shows no clear change before detection"
        if facts.investigation is not None
        else facts.investigation_problem
    )
    if alert_onset is None:
        return None, f"not computed: no alert, and {why}"
    return alert_onset, f"{_when(alert_onset)} (from the earliest alert's evidence; {why})"


def _level(value: float | None) -> str:
    return "–" if value is None else f"{value:.4g}"


def _blast(facts: ReviewFacts) -> dict[str, str] | None:
    found = facts.investigation
    if found is None or found.blast.calls == 0:
        return None
    blast = found.blast
    until = "now (still open)" if blast.live else _when(blast.until)
    return {
        "calls": str(blast.calls),
        "users": str(blast.users),
        "tenants": str(blast.tenants),
        "window": f"{_when(found.onset.at)} to {until}"
        + (
            f"; affected calls seen {_when(blast.first)} to {_when(blast.last)}"
            if blast.first
            else ""
        ),
        "why": blast.why,
    }


def _calls_affected(facts: ReviewFacts) -> str:
    """Calls affected when the investigation has no blast radius: an alert's count, or why
    there is none."""
    counts = [
        int(a.evidence["affected_calls"])
        for a in facts.alerts
        if isinstance(a.evidence.get("affected_calls"), int | float)
    ]
    if counts:
        return f"{max(counts)} calls affected (the largest count an alert recorded)"
    why = (
        facts.investigation_problem
        if facts.investigation is None
        else "no affected call of the feature is in fireline's telemetry"
    )
    seen = [
        int(a.evidence["calls"]) for a in facts.alerts if isinstance(a.evidence.get("calls"), int)
    ]
    lead = f"; the alert windows held up to {max(seen)} calls in all" if seen else ""
    return f"{NOT_COMPUTED} ({why}{lead})"


def _verdict(done: datetime | None, due: datetime) -> str:
    if done is None:
        return "not acknowledged"
    if done <= due:
        return "met"
    return f"missed by {format_duration((done - due).total_seconds())}"


def _kill_switch(timeline: Sequence[TimelineEntry]) -> str:
    guards = [e for e in timeline if e.kind == "guard_set"]
    for entry in guards:
        level = entry.data.get("level")
        if isinstance(level, int) and level >= KILL_SWITCH_LEVEL:
            return f"Yes: {entry.actor} set the guard to level {level} at {_when(entry.at)}."
    levels = [level for e in guards if isinstance(level := e.data.get("level"), int)]
    if levels:
        return (
            f"Available but not used: the feature's guard was set {len(levels)} time(s) "
            f"(highest level {max(levels)}), never to level {KILL_SWITCH_LEVEL} or above "
            "(feature disabled, full shutdown). Why not? " + FOR_PEOPLE
        )
    return (
        "No guard at level 4 or above (feature disabled, full shutdown) is on the timeline. "
        "Was a kill switch available? " + FOR_PEOPLE
    )


def _gap(seconds: float) -> str:
    if seconds >= 0:
        return f"deployed {format_duration(seconds)} before the onset"
    return f"deployed {format_duration(-seconds)} after the onset"


def _suspect(found: Suspect) -> dict[str, Any]:
    change = found.change
    c = found.concentration
    concentration = (
        "concentration not measurable (calls do not carry this kind of change)"
        if c is None
        else (
            f"{c.share_bad:.0%} of the affected calls ran it against {c.share_base:.0%} of the "
            f"baseline calls (lift {c.lift:.3g}, p-value {c.p_value:.2g})"
        )
    )
    return {
        "id": change.change_id,
        "kind": change.kind.value,
        "version": change.version,
        "previous_version": change.previous_version or "–",
        "time": _when(change.time),
        "author": change.author or "–",
        "description": change.description or "",
        "gap": _gap(found.gap_s),
        "concentration": concentration,
        "score": f"{found.score:.2f}",
        "rollback": f"rollback available (to {found.rollback_target})"
        if found.rollback_target is not None
        else "no rollback available (not the live version, or no last-known-good one)",
    }


def _segment(found: SegmentFinding) -> dict[str, str]:
    return {
        "dimension": found.dimension,
        "value": found.value,
        "text": (
            f"{found.share_affected:.0%} of the affected calls ({found.affected}) against "
            f"{found.share_baseline:.0%} of the baseline calls (lift {found.lift:.3g}, "
            f"q-value {found.q_value:.2g})"
        ),
    }


def _rollbacks(timeline: Sequence[TimelineEntry]) -> list[str]:
    return [f"{_when(e.at)}, {e.actor}: {e.message}" for e in timeline if e.kind == "routing"]


def _prompt_versioned(facts: ReviewFacts) -> str:
    if facts.prompt_changes:
        newest = facts.prompt_changes[0]
        return (
            f"Prompt versions are recorded in the change log ({len(facts.prompt_changes)} "
            f"before detection; newest {newest.version} at {_when(newest.time)}). "
            "Were they tested before the change? " + FOR_PEOPLE
        )
    return "No prompt change of this feature is in fireline's change log. " + FOR_PEOPLE


def _top_change(facts: ReviewFacts) -> Change | None:
    if facts.investigation is not None:
        suspects = facts.investigation.suspects
        return suspects[0].change if suspects else None
    return facts.suspected_change


def _retrieval(facts: ReviewFacts, suspect: Change | None) -> str:
    index = (
        f"An index change ({suspect.version}) is the top suspect. "
        if suspect is not None and suspect.kind is ChangeKind.INDEX
        else ""
    )
    if facts.retrieval_monitoring:
        return (
            "Yes: " + "; ".join(facts.retrieval_monitoring) + ". " + index + "Did it catch "
            "this incident, and soon enough? " + FOR_PEOPLE
        )
    return (
        f"No grounding or index-related scanner or detector produced alerts or hits for "
        f"{facts.incident.feature}. " + index + FOR_PEOPLE
    )


def _questions(facts: ReviewFacts) -> list[dict[str, str]]:
    suspect = _top_change(facts)
    model = (
        f"The top suspect is a model change ({suspect.version}). " + FOR_PEOPLE
        if suspect is not None and suspect.kind is ChangeKind.MODEL
        else FOR_PEOPLE
    )
    retrieval = _retrieval(facts, suspect)
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


def signal_plot(facts: ReviewFacts) -> str | None:
    """The SVG plot of the alerting signal(s) with the incident's milestones, if read."""
    if not facts.signals:
        return None
    onset, _ = _when_onset(facts)
    incident = facts.incident
    marks = {
        "onset": onset,
        "detected": incident.detected_at,
        "contained": incident.time_of(IncidentState.CONTAINED),
        "resolved": incident.time_of(IncidentState.RESOLVED),
    }
    return signal_svg(facts.signals, marks)


def _investigated(facts: ReviewFacts) -> dict[str, Any]:
    found = facts.investigation
    if found is None:
        return {
            "computed": False,
            "problem": facts.investigation_problem,
            "suspects": [],
            "segments": [],
            "notes": [],
        }
    return {
        "computed": True,
        "problem": "",
        "signal": found.signal,
        "suspects": [_suspect(s) for s in found.suspects[:TOP_SUSPECTS]],
        "segments": [_segment(s) for s in found.segments if s.significant][:TOP_SEGMENTS],
        "affected": found.blast.calls,
        "notes": list(found.notes),
    }


def context(facts: ReviewFacts, *, plot_file: str | None = None) -> dict[str, Any]:
    """Everything the templates show, as plain values."""
    incident = facts.incident
    detected = incident.detected_at
    resolved = incident.time_of(IncidentState.RESOLVED)
    onset, onset_text = _when_onset(facts)
    _, first = _onset(facts.alerts)
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
        "calls_affected": _calls_affected(facts),
        "blast": _blast(facts),
        "investigation": _investigated(facts),
        "rollbacks": _rollbacks(facts.timeline),
        "plot": {
            "file": plot_file,
            "drawn": bool(facts.signals),
            "problem": facts.signals_problem,
        },
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
            "onset": onset_text,
            "delay": "not computed"
            if onset is None or onset > detected
            else format_duration((detected - onset).total_seconds()),
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


def render_markdown(facts: ReviewFacts, *, plot_file: str | None = None) -> str:
    """The review draft as Markdown; `plot_file` is where the signal plot's SVG is written
    (a path relative to the Markdown), or None when it is not written."""
    return _ENV.get_template("review.md").render(context(facts, plot_file=plot_file))


def render_html(facts: ReviewFacts) -> str:
    """The review draft as an HTML page (every value escaped), the signal plot inline."""
    plot = signal_plot(facts)
    # The SVG is built by fireline.learn.svg, which escapes every text it draws.
    svg = None if plot is None else Markup(plot)  # noqa: S704
    return _ENV.get_template("review.html").render({**context(facts), "svg": svg})
