"""Message templates (Jinja2, sandboxed): shipped defaults, overridable from a user directory.

A template's first non-empty line is the message's title, the rest its body. Templates whose
file name ends in `.html.j2` are HTML and escape what they insert; the others are text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from fireline.domain.alert import Alert
from fireline.domain.incident import Incident, IncidentState, TimelineEntry
from fireline.errors import InvalidInput, NotFound, Problem
from fireline.notify.message import split_rendered

#: The templates fireline ships: one per audience.
TEMPLATES = ("internal", "exec_brief", "status_update", "regulatory_report")
SUFFIX = ".j2"


class TemplateProblem(InvalidInput):
    """A template that cannot be read or rendered; names the template and the line."""

    def __init__(self, name: str, line: int | None, message: str) -> None:
        super().__init__([Problem(line, None, message, row_label="line")], source=name)


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered template: the title line and the body."""

    template: str
    title: str
    body: str

    @property
    def text(self) -> str:
        return f"{self.title}\n\n{self.body}".strip() + "\n"


def _when(value: datetime | None) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def _minutes(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return "—"
    total = max(0, int((end - start).total_seconds() // 60))
    hours, minutes = divmod(total, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


class Templates:
    """Finds templates in the user's directory first, then among the shipped ones."""

    def __init__(self, user_dir: Path | None = None) -> None:
        loaders: list[jinja2.BaseLoader] = []
        if user_dir is not None:
            loaders.append(jinja2.FileSystemLoader(str(user_dir)))
        loaders.append(jinja2.PackageLoader("fireline.notify", "templates"))
        self.user_dir = user_dir
        # Sandboxed: a user's template may read the context, never reach Python internals.
        # Strict: a misspelt variable is an error, not a silently empty line in a page.
        self._env = SandboxedEnvironment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=jinja2.select_autoescape(
                enabled_extensions=("html.j2", "htm.j2", "xml.j2"), default=False
            ),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self._env.filters["when"] = _when
        self._env.globals["duration"] = _minutes

    def names(self) -> list[str]:
        """Every template that can be rendered: shipped or the user's own."""
        return sorted(
            name.removesuffix(SUFFIX)
            for name in self._env.list_templates()
            if name.endswith(SUFFIX)
        )

    def render(self, name: str, context: Mapping[str, Any]) -> Rendered:
        """Render `name` (e.g. "exec_brief", "status_update.html") with `context`."""
        if "/" in name or "\\" in name or name.startswith("."):
            raise NotFound(f"no template named {name!r}")
        file_name = name + SUFFIX
        try:
            template = self._env.get_template(file_name)
            text = template.render(**context)
        except jinja2.TemplateNotFound:
            known = ", ".join(self.names())
            raise NotFound(f"no template named {name!r} (known: {known})") from None
        except jinja2.TemplateSyntaxError as error:
            raise TemplateProblem(
                error.filename or file_name, error.lineno, error.message or ""
            ) from None
        except jinja2.TemplateError as error:  # undefined names, sandbox refusals
            raise TemplateProblem(file_name, _line_of(error), str(error)) from None
        title, body = split_rendered(text)
        return Rendered(template=name, title=title, body=body)


def _line_of(error: BaseException) -> int | None:
    """The template line a render error happened on, from the traceback Jinja rewrites."""
    line = None
    trace = error.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename.endswith(SUFFIX):
            line = trace.tb_lineno
        trace = trace.tb_next
    return line


def incident_context(
    incident: Incident,
    *,
    now: datetime,
    timeline: Sequence[TimelineEntry] = (),
    alerts: Sequence[Alert] = (),
    affected: Mapping[str, Any] | None = None,
    prevention: Iterable[str] = (),
    links: Mapping[str, str] | None = None,
    next_update_minutes: float | None = None,
) -> dict[str, Any]:
    """What every template may use: the incident, what happened, who is affected, what was
    done, how it will be prevented. Plain values only, so user templates stay simple."""
    states = {state.value: incident.time_of(state) for state in IncidentState}
    return {
        "now": now,
        "incident": {
            "id": incident.incident_id,
            "title": incident.title,
            "feature": incident.feature,
            "type": incident.type.value,
            "severity": incident.severity.value,
            "severity_label": incident.severity.label,
            "response_target": incident.severity.response_target,
            "state": incident.state.value,
            "is_open": incident.is_open,
            "detected_at": incident.detected_at,
            "contained_at": states["contained"],
            "resolved_at": states["resolved"],
            "times": states,
        },
        "alerts": [
            {
                "detector": alert.detector,
                "signal": alert.signal,
                "segment": ", ".join(f"{k}={v}" for k, v in sorted(alert.segment.items())),
                "baseline": alert.baseline_value,
                "current": alert.current_value,
                "fired_at": alert.fired_at,
                "summary": alert.summary,
                "open": alert.resolved_at is None,
            }
            for alert in alerts
        ],
        "affected": _affected(incident, alerts, affected or {}),
        "actions": [
            {"at": entry.at, "actor": entry.actor, "kind": entry.kind, "message": entry.message}
            for entry in timeline
        ],
        "prevention": list(prevention),
        "links": dict(links or {}),
        "next_update_minutes": None if next_update_minutes is None else round(next_update_minutes),
    }


def _affected(incident: Incident, alerts: Sequence[Alert], given: Mapping[str, Any]) -> Any:
    """Who is affected: the feature, the segments that fired, counts from the evidence."""
    segments = sorted(
        {", ".join(f"{k}={v}" for k, v in sorted(a.segment.items())) for a in alerts} - {""}
    )
    requests = sum(int(a.evidence.get("calls", 0) or 0) for a in alerts if a.segment == {})
    found: dict[str, Any] = {
        "feature": incident.feature,
        "segments": segments,
        "requests": requests or None,
        "users": None,
        "tenants": None,
        "share_of_users": None,
    }
    found.update(given)  # blast radius from investigation, when there is one, wins
    return found
