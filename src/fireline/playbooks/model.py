"""A playbook as data: detection criteria, severity guidance, steps and message templates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from fireline.contain.policy import Strategy
from fireline.domain.incident import IncidentType
from fireline.domain.severity import Severity

#: Ids of playbooks and steps: lower-case words joined by hyphens or underscores.
_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
Id = Annotated[str, Field(pattern=_ID_PATTERN)]
#: The messages a playbook may template, one per audience.
TEMPLATE_NAMES = ("internal", "status_page", "customer")


class Section(StrEnum):
    """Where a step belongs in the response."""

    CONTAINMENT = "containment"
    INVESTIGATION = "investigation"
    REMEDIATION = "remediation"
    COMMUNICATION = "communication"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _severities(value: object) -> object:
    """ "P0-P2" (or "P1") as the severities it spans; lists pass through."""
    if not isinstance(value, str):
        return value
    names = [s.value for s in Severity]
    low, _, high = (part.strip() for part in value.partition("-"))
    high = high or low
    if low not in names or high not in names:
        raise ValueError(f"not a severity range: {value!r}; write P1 or P0-P2")
    first, last = sorted((names.index(low), names.index(high)))
    return names[first : last + 1]


class Detection(_Model):
    """Which incidents the playbook is for; also what people read as its detection criteria."""

    description: str = ""
    #: The incident types it applies to (empty: any type).
    incident_types: tuple[IncidentType, ...] = ()
    #: Signals that point to it: a name ("error_rate") or a prefix ending in "*" ("eval.*").
    signals: tuple[Annotated[str, Field(min_length=1, max_length=80)], ...] = ()
    #: Segment dimensions whose alerts point to it ("prompt_version", "tenant").
    segments: tuple[Annotated[str, Field(min_length=1, max_length=80)], ...] = ()
    #: Fits only incidents with an alert on one of `segments` (bias shows on a group).
    require_segment: bool = False


class Guidance(_Model):
    """One line of severity guidance: this severity when this holds."""

    severity: Severity
    when: Annotated[str, Field(min_length=1)]


class SeverityGuide(_Model):
    """How severe incidents of this kind usually are, and when they are worse or milder."""

    typical: Annotated[tuple[Severity, ...], BeforeValidator(_severities), Field(min_length=1)] = (
        Severity.P2,
    )
    guidance: tuple[Guidance, ...] = ()


class ContainmentGuide(_Model):
    """The containment the playbook recommends: the least that stops this harm."""

    level: Annotated[int, Field(ge=1, le=5)]
    strategy: Strategy
    why: str = ""


class Step(_Model):
    """One step of the response; `automatic` names an action the engine runs at attachment."""

    id: Id
    title: Annotated[str, Field(min_length=1, max_length=200)]
    section: Section
    details: str = ""
    automatic: str | None = None
    #: The automatic action's arguments (see `fireline.playbooks.actions`).
    args: dict[str, Any] = Field(default_factory=dict)


class Playbook(_Model):
    """A scenario's runbook: detection, severity, containment, investigation, remediation, comms."""

    id: Id
    title: Annotated[str, Field(min_length=1, max_length=200)]
    summary: str = ""
    #: Breaks ties between playbooks that match an incident equally well (higher wins).
    priority: int = 0
    detection: Detection = Field(default_factory=Detection)
    severity: SeverityGuide = Field(default_factory=SeverityGuide)
    containment: ContainmentGuide
    steps: Annotated[tuple[Step, ...], Field(min_length=1)]
    #: Jinja2 templates by audience: internal, status_page, customer.
    templates: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_templates(self) -> Playbook:
        unknown = sorted(set(self.templates) - set(TEMPLATE_NAMES))
        if unknown:
            raise ValueError(
                f"unknown template '{unknown[0]}' (templates: {', '.join(TEMPLATE_NAMES)})"
            )
        return self

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)

    def in_section(self, section: Section) -> list[Step]:
        return [s for s in self.steps if s.section is section]


def signal_score(pattern: str, signal: str) -> int:
    """How well `signal` matches `pattern`: 3 by name, 2 by prefix ("eval.*"), 0 not at all.

    >>> signal_score("eval.*", "eval.quality"), signal_score("error_rate", "error_rate")
    (2, 3)
    """
    if pattern.endswith("*"):
        return 2 if signal.startswith(pattern[:-1]) else 0
    return 3 if signal == pattern else 0


def fit(
    playbook: Playbook,
    incident_type: IncidentType,
    alerts: Sequence[tuple[str, Mapping[str, str]]],
) -> tuple[int, int] | None:
    """How well the playbook fits an incident of a type whose alerts are (signal, segment)
    pairs: the best (signal score, segment score) of an alert, or None if the type is not
    one it is for."""
    detection = playbook.detection
    if detection.incident_types and incident_type not in detection.incident_types:
        return None
    best = (0, 0)
    for signal, segment in alerts:
        by_signal = max((signal_score(p, signal) for p in detection.signals), default=0)
        by_segment = 2 if set(segment) & set(detection.segments) else 0
        best = max(best, (by_signal, by_segment))
    if detection.require_segment and not any(set(s) & set(detection.segments) for _, s in alerts):
        return None
    return best


def best_match(
    playbooks: Sequence[Playbook],
    incident_type: IncidentType,
    alerts: Sequence[tuple[str, Mapping[str, str]]],
) -> Playbook | None:
    """The playbook that fits best: signal first, then segment, then priority, then id."""
    scored = []
    for playbook in playbooks:
        found = fit(playbook, incident_type, alerts)
        if found is not None:
            scored.append(((*found, playbook.priority), playbook.id, playbook))
    if not scored:
        return None
    # The id breaks the last ties the same way every time (the first in alphabetical order).
    scored.sort(key=lambda item: (tuple(-x for x in item[0]), item[1]))
    return scored[0][2]
