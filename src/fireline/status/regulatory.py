"""Regulatory clocks: reporting regimes as data, deadlines and reminders (pure functions)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Regime:
    """A duty to report an incident within `days` of becoming aware of it.

    `days` is None for a regime whose deadline the deployment must set (the generic data
    breach). `variants` shorten (or lengthen) the deadline for named circumstances.
    """

    name: str
    title: str
    days: int | None
    variants: Mapping[str, int] = field(default_factory=dict)
    authority: str = "the competent authority"
    basis: str = ""

    def days_for(self, variant: str | None) -> int:
        """The days allowed under `variant` (None: the regime's own), or raise ValueError."""
        if variant is None:
            if self.days is None:
                setting = (
                    "data_breach_days"
                    if self.name == "data_breach"
                    else f"regimes.{self.name}.days"
                )
                raise ValueError(
                    f"regime '{self.name}' has no deadline configured: set "
                    f"status.regulatory.{setting} in fireline.yaml"
                )
            return self.days
        if variant not in self.variants:
            known = ", ".join(sorted(self.variants)) or "none"
            raise ValueError(f"regime '{self.name}' has no variant '{variant}' (known: {known})")
        return self.variants[variant]


#: The built-in regimes. Days are calendar days counted from awareness of the incident.
DEFAULT_REGIMES: Mapping[str, Regime] = {
    "eu_ai_act": Regime(
        name="eu_ai_act",
        title="EU AI Act serious incident report",
        days=15,
        variants={"death": 10, "widespread_infringement": 2, "critical_infrastructure": 2},
        authority="the market surveillance authority of the Member State where it occurred",
        basis="Regulation (EU) 2024/1689, Article 73",
    ),
    "hipaa": Regime(
        name="hipaa",
        title="HIPAA breach notification",
        days=60,
        authority="the affected individuals (and HHS, and the media above 500 individuals)",
        basis="45 CFR 164.404",
    ),
    "data_breach": Regime(
        name="data_breach",
        title="Data breach notification",
        days=None,
        authority="the data protection authority",
        basis="the deployment's data-breach policy",
    ),
}


@dataclass(frozen=True, slots=True)
class RegulatoryClock:
    """A reporting deadline running for one incident under one regime."""

    incident_id: int
    regime: str
    variant: str | None
    started_at: datetime
    due_at: datetime
    reason: str
    started_by: str
    reported_at: datetime | None = None
    reported_by: str | None = None
    reminders_sent: tuple[str, ...] = ()
    clock_id: int | None = None

    @property
    def is_open(self) -> bool:
        return self.reported_at is None

    def overdue(self, now: datetime) -> bool:
        return self.is_open and now >= self.due_at

    def remaining(self, now: datetime) -> timedelta:
        """Time left before the deadline; negative once overdue."""
        return self.due_at - now


def start_clock(
    regime: Regime,
    *,
    incident_id: int,
    variant: str | None,
    aware_at: datetime,
    reason: str,
    started_by: str,
) -> RegulatoryClock:
    """A clock for `incident_id` under `regime`, due `days` after `aware_at`.

    >>> from datetime import UTC
    >>> clock = start_clock(DEFAULT_REGIMES["eu_ai_act"], incident_id=1, variant="death",
    ...     aware_at=datetime(2026, 3, 2, tzinfo=UTC), reason="r", started_by="me")
    >>> clock.due_at.isoformat()
    '2026-03-12T00:00:00+00:00'
    """
    days = regime.days_for(variant)
    return RegulatoryClock(
        incident_id=incident_id,
        regime=regime.name,
        variant=variant,
        started_at=aware_at,
        due_at=aware_at + timedelta(days=days),
        reason=reason,
        started_by=started_by,
    )


# ---------------------------------------------------------------- reminders

_SHARE = re.compile(r"^(\d{1,2}(?:\.\d+)?)%$")
_BEFORE = re.compile(r"^(\d{1,4})([dhm])$")
_UNITS = {"d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}
OVERDUE = "overdue"


def parse_reminder_point(point: str) -> tuple[float | None, timedelta | None]:
    """A reminder point as (share of the period elapsed, time before the deadline).

    >>> parse_reminder_point("80%"), parse_reminder_point("1d"), parse_reminder_point("overdue")
    ((0.8, None), (None, datetime.timedelta(days=1)), (None, datetime.timedelta(0)))
    """
    if point == OVERDUE:
        return None, timedelta(0)
    share = _SHARE.match(point)
    if share is not None:
        value = float(share.group(1))
        if not 0 < value < 100:
            raise ValueError(f"reminder '{point}': a share must be between 0% and 100%")
        return value / 100, None
    before = _BEFORE.match(point)
    if before is not None and int(before.group(1)) > 0:
        return None, int(before.group(1)) * _UNITS[before.group(2)]
    raise ValueError(
        f"reminder '{point}' is not a share ('50%'), a time before the deadline "
        "('1d', '12h', '30m') or 'overdue'"
    )


@dataclass(frozen=True, slots=True)
class Reminder:
    """One reminder of a clock: which point, when it falls due, and whether it is overdue."""

    clock: RegulatoryClock
    point: str
    at: datetime

    @property
    def overdue(self) -> bool:
        return self.point == OVERDUE

    def message(self, now: datetime) -> str:
        """A one-line reminder a person can act on."""
        what = f"{self.clock.regime}" + (f" ({self.clock.variant})" if self.clock.variant else "")
        due = self.clock.due_at.strftime("%Y-%m-%d %H:%M UTC")
        if self.overdue:
            return f"incident {self.clock.incident_id}: the {what} report was due {due} (OVERDUE)"
        left = _human(self.clock.remaining(now))
        return f"incident {self.clock.incident_id}: the {what} report is due {due} ({left} left)"


def reminder_schedule(clock: RegulatoryClock, points: Iterable[str]) -> list[Reminder]:
    """When each point falls due for `clock`, earliest first; points before the start drop."""
    period = clock.due_at - clock.started_at
    found: list[Reminder] = []
    for point in points:
        share, before = parse_reminder_point(point)
        if share is not None:
            at = clock.started_at + period * share
        else:
            assert before is not None  # a point is a share or a time before the deadline
            at = clock.due_at - before
        if at >= clock.started_at:
            found.append(Reminder(clock, point, at))
    return sorted(found, key=lambda reminder: reminder.at)


def reminders_due(clock: RegulatoryClock, points: Iterable[str], now: datetime) -> list[Reminder]:
    """The reminders of an open clock that have fallen due by `now` and were not sent.

    Only the latest of several due points is returned, so a clock found late (after a
    downtime) reminds once, not once per missed point; the others count as sent.
    """
    if not clock.is_open:
        return []
    due = [r for r in reminder_schedule(clock, points) if r.at <= now]
    fresh = [r for r in due if r.point not in clock.reminders_sent]
    return fresh[-1:] if fresh and fresh[-1] is due[-1] else []


def points_passed(clock: RegulatoryClock, points: Iterable[str], now: datetime) -> list[str]:
    """Every point of `clock` that has fallen due by `now` (what to record as sent)."""
    return [r.point for r in reminder_schedule(clock, points) if r.at <= now]


def _human(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    if hours >= 48:
        return f"{hours // 24} days"
    if hours >= 1:
        return f"{hours} h"
    return f"{max(int(delta.total_seconds() // 60), 0)} min"
