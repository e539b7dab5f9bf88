"""The first hour of an incident as a checklist with time boxes, and which steps are overdue."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class ClockStep:
    """One step of the first hour: its name, time box in minutes, and what completes it."""

    name: str
    title: str
    start_min: int
    end_min: int
    #: Timeline kinds that complete the step by themselves (a person can also tick it).
    done_by: frozenset[str] = frozenset()


FIRST_HOUR: tuple[ClockStep, ...] = (
    ClockStep(
        "confirm",
        "Confirm the signal across sources",
        0,
        10,
        frozenset({"acknowledged", "note"}),
    ),
    ClockStep("bound", "Bound the blast radius", 10, 20, frozenset({"blast_radius"})),
    ClockStep(
        "classify",
        "Classify and decide containment",
        20,
        30,
        frozenset({"severity_set", "guard_set", "containment_decided"}),
    ),
    ClockStep(
        "communicate",
        "Stabilize and communicate",
        30,
        60,
        frozenset({"status_update", "update_sent"}),
    ),
)


@dataclass(frozen=True, slots=True)
class StepStatus:
    """Where one step stands at a moment."""

    step: ClockStep
    due_at: datetime
    done_at: datetime | None
    overdue: bool


def checklist(
    detected_at: datetime,
    events: Iterable[tuple[str, datetime, str]],
    now: datetime,
    steps: tuple[ClockStep, ...] = FIRST_HOUR,
) -> list[StepStatus]:
    """Each step's due time, when it was done, and whether it is overdue at `now`.

    `events` are the incident's timeline as (kind, time, step ticked by a person or "").

    >>> from datetime import UTC
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> found = checklist(t0, [("guard_set", t0, "")], t0 + timedelta(minutes=15))
    >>> [(s.step.name, s.done_at is not None, s.overdue) for s in found][:3]
    [('confirm', False, True), ('bound', False, False), ('classify', True, False)]
    """
    done: dict[str, datetime] = {}
    for kind, at, ticked in events:
        for step in steps:
            if step.name not in done and (kind in step.done_by or ticked == step.name):
                done[step.name] = at
    return [
        StepStatus(
            step,
            due_at := detected_at + timedelta(minutes=step.end_min),
            done.get(step.name),
            step.name not in done and now > due_at,
        )
        for step in steps
    ]
