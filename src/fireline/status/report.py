"""The regulatory report draft (Markdown), from an incident, its alerts, timeline and clocks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from jinja2 import PackageLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from fireline.domain.alert import Alert
from fireline.domain.incident import Incident, TimelineEntry
from fireline.status.regulatory import Regime, RegulatoryClock


@cache
def _environment() -> SandboxedEnvironment:
    # Markdown, not HTML: nothing to escape; sandboxed all the same, as the text it receives
    # comes from alerts and people.
    return SandboxedEnvironment(
        loader=PackageLoader("fireline.status", "templates"),
        autoescape=False,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def render_report(
    *,
    regime: Regime,
    incident: Incident,
    clocks: Sequence[RegulatoryClock],
    alerts: Sequence[Alert],
    timeline: Sequence[TimelineEntry],
    now: datetime,
) -> str:
    """A Markdown draft of the report `regime` asks for: what happened, who is affected, what
    was done, how it will be prevented (the last left for people to write)."""
    segments = sorted({_segment(a.segment) for a in alerts if a.segment})
    template = _environment().get_template("regulatory_report.md.j2")
    return template.render(
        regime=regime,
        incident={
            "id": incident.incident_id,
            "title": incident.title,
            "feature": incident.feature,
            "type": incident.type.value,
            "severity": incident.severity.value,
            "severity_label": incident.severity.label,
            "state": incident.state.value,
            "detected_at": _when(incident.detected_at),
            "state_times": [(s.value, _when(at)) for s, at in incident.state_times.items()],
        },
        clocks=[_clock(c, now) for c in clocks],
        alerts=[_alert(a) for a in alerts],
        segments=segments,
        evidence=_evidence(alerts),
        timeline=[{"at": _when(e.at), "actor": e.actor, "message": e.message} for e in timeline],
        now=_when(now),
    )


def _clock(clock: RegulatoryClock, now: datetime) -> dict[str, Any]:
    return {
        "regime": clock.regime,
        "variant": clock.variant,
        "reason": clock.reason,
        "started_at": _when(clock.started_at),
        "due_at": _when(clock.due_at),
        "days": (clock.due_at - clock.started_at).days,
        "overdue": clock.overdue(now),
    }


def _alert(alert: Alert) -> dict[str, Any]:
    return {
        "fired_at": _when(alert.fired_at),
        "signal": alert.signal,
        "detector": alert.detector,
        "segment": _segment(alert.segment),
        "baseline_value": f"{alert.baseline_value:.4g}",
        "current_value": f"{alert.current_value:.4g}",
    }


def _evidence(alerts: Sequence[Alert]) -> list[str]:
    """Counts the detectors recorded (calls, users, tenants…), as leads for the reader."""
    lines = []
    for alert in alerts:
        counts = {k: v for k, v in alert.evidence.items() if isinstance(v, int | float)}
        if counts:
            shown = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
            lines.append(
                f"{alert.signal} ({_when(alert.window_start)} to "
                f"{_when(alert.window_end)}): {shown}"
            )
    return lines


def _segment(segment: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(segment.items()))


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")
