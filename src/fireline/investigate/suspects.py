"""Suspects: changes ranked by closeness to the onset and by where the bad calls fall."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from fireline.domain.telemetry import Change
from fireline.investigate.stats import fisher_greater, lift, share

#: Minutes over which closeness to the onset halves.
HALF_LIFE_MIN = 30.0
#: The score of concentration when it cannot be measured (flags, config).
UNKNOWN_CONCENTRATION = 0.25


@dataclass(frozen=True, slots=True)
class Concentration:
    """Bad calls since the onset and calls of the baseline before it, and how many of each
    ran the changed version."""

    bad_on_version: int
    bad: int
    base_on_version: int
    base_calls: int

    @property
    def share_bad(self) -> float:
        return share(self.bad_on_version, self.bad)

    @property
    def share_base(self) -> float:
        return share(self.base_on_version, self.base_calls)

    @property
    def lift(self) -> float:
        return lift(self.bad_on_version, self.bad, self.base_on_version, self.base_calls)

    @property
    def p_value(self) -> float:
        """One-sided Fisher test: bad calls ran the version more than baseline calls did."""
        return fisher_greater(self.bad_on_version, self.bad, self.base_on_version, self.base_calls)


@dataclass(frozen=True, slots=True)
class Suspect:
    """A change that may have caused the incident, with the evidence for it."""

    change: Change
    gap_s: float
    proximity: float
    concentration: Concentration | None
    score: float
    rollback_target: str | None = None

    @property
    def rollback_available(self) -> bool:
        return self.rollback_target is not None


def proximity(gap_s: float, *, slack_s: float = 0.0) -> float:
    """How close a change is to the onset, 1 at the onset: halves every HALF_LIFE_MIN before
    it, and falls four times as fast after it (beyond `slack_s`, the onset's uncertainty).

    >>> proximity(0), proximity(1800), round(proximity(-1800), 3)
    (1.0, 0.5, 0.062)
    """
    half_life = HALF_LIFE_MIN * 60
    if gap_s < -slack_s:
        return math.pow(0.5, 4 * (-gap_s - slack_s) / half_life)
    return math.pow(0.5, max(gap_s, 0.0) / half_life)


def concentration_score(found: Concentration | None) -> float:
    """1 - p when bad calls ran the version more than calls at large, else 0.

    >>> concentration_score(Concentration(40, bad=40, base_on_version=0, base_calls=200))
    1.0
    >>> concentration_score(None)
    0.25
    """
    if found is None:
        return UNKNOWN_CONCENTRATION
    if found.bad == 0 or found.lift <= 1:
        return 0.0
    return round(1.0 - found.p_value, 12)


def suspect(
    change: Change,
    onset: datetime,
    found: Concentration | None,
    *,
    slack_s: float = 0.0,
    rollback_target: str | None = None,
) -> Suspect:
    """A change weighed as a suspect: the mean of its proximity and concentration scores."""
    gap = (onset - change.time).total_seconds()
    near = proximity(gap, slack_s=slack_s)
    return Suspect(
        change=change,
        gap_s=gap,
        proximity=near,
        concentration=found,
        score=(near + concentration_score(found)) / 2,
        rollback_target=rollback_target,
    )


def ranked(suspects: Iterable[Suspect]) -> list[Suspect]:
    """Most suspect first; ties go to the change nearest the onset."""
    return sorted(suspects, key=lambda s: (-s.score, abs(s.gap_s), s.change.change_id))
