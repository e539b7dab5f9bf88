"""A playbook's message templates (Jinja2, sandboxed), rendered with an incident."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from fireline.domain.incident import Incident, IncidentType
from fireline.domain.severity import Severity, response_due

# Sandboxed: a user's playbook may read the context, never reach Python internals. Strict: a
# misspelt variable is an error when the playbook is loaded, not an empty line in a notice.
_ENV = SandboxedEnvironment(
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_ENV.filters["when"] = lambda value: value.strftime("%Y-%m-%d %H:%M UTC")

#: An incident to try templates on when a playbook is loaded.
SAMPLE = Incident.detected(
    feature="support-bot",
    type=IncidentType.QUALITY,
    severity=Severity.P2,
    title="refusal rate of support-bot at 12% (baseline 2%)",
    at=datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
)


def context(
    incident: Incident, playbook: Mapping[str, Any], steps: tuple[int, int] = (0, 0)
) -> dict[str, Any]:
    """What a template sees: the incident, the playbook, and steps done of steps in all."""
    return {
        "incident": {
            "id": incident.incident_id or 0,
            "title": incident.title,
            "feature": incident.feature,
            "type": incident.type.value,
            "severity": incident.severity.value,
            "severity_label": incident.severity.label,
            "state": incident.state.value,
            "detected_at": incident.detected_at,
            "response_target": incident.severity.response_target,
            "response_due": response_due(incident.severity, incident.detected_at),
        },
        "playbook": dict(playbook),
        "steps_done": steps[0],
        "steps_total": steps[1],
    }


def compile_template(text: str) -> jinja2.Template:
    """The template of `text`; jinja2.TemplateError if it is not valid."""
    return _ENV.from_string(text)


def render(text: str, values: Mapping[str, Any]) -> str:
    """`text` rendered with `values`; jinja2.TemplateError if it cannot be."""
    return compile_template(text).render(**values).strip() + "\n"


__all__ = ["SAMPLE", "compile_template", "context", "render"]
