"""A trailing baseline of a signal, kept per hour, that can follow a daily cycle."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from scipy import stats

_HOUR = 3_600
#: Hour-of-day profiles are trusted only when the hours differ beyond this significance: a
#: flat baseline is estimated from 24 times more data, so seasonality must earn its place.
_SEASONAL_P = 1e-4


@dataclass(frozen=True, slots=True)
class Sums:
    """n, the sum and the sum of squares of what a baseline saw."""

    n: float = 0.0
    total: float = 0.0
    total_sq: float = 0.0
    buckets: int = 0

    def __add__(self, other: Sums) -> Sums:
        return Sums(
            self.n + other.n,
            self.total + other.total,
            self.total_sq + other.total_sq,
            self.buckets + other.buckets,
        )

    def as_list(self) -> list[float]:
        return [self.n, self.total, self.total_sq, self.buckets]

    @classmethod
    def from_list(cls, values: list[float]) -> Sums:
        n, total, total_sq, buckets = values
        return cls(float(n), float(total), float(total_sq), int(buckets))


class HourlyBaseline:
    """Sums of a signal per hour over the trailing `baseline_s`, held back by `guard_s`.

    Buckets younger than `guard_s` wait before they count, so a change that a detector is
    still accumulating evidence on does not leak into the baseline it is judged against.
    `freeze()` stops learning altogether (while alarmed). With `seasonal`, `at(t)` returns
    the sums of the same hour of day on past days, once at least two days are known and the
    hours differ significantly (`kind` says how to test that: "rate", "mean" or "count").
    """

    def __init__(self, baseline_s: int, guard_s: int, *, seasonal: bool, kind: str) -> None:
        self.baseline_s = baseline_s
        self.guard_s = guard_s
        self.seasonal = seasonal
        self.kind = kind
        self._pending: deque[tuple[float, Sums]] = deque()
        self._hours: dict[int, Sums] = {}
        self._frozen = False
        self._profile: dict[int, Sums] | None = None
        self._total: Sums | None = None

    @property
    def frozen(self) -> bool:
        return self._frozen

    def freeze(self) -> None:
        self._frozen = True

    def thaw(self, *, drop_pending: bool) -> None:
        """Learn again; `drop_pending` forgets buckets not yet learned (they held a fault)."""
        self._frozen = False
        if drop_pending:
            self._pending.clear()

    def add(self, end: datetime, sums: Sums) -> None:
        """Offer one bucket that ended at `end`; it is learned once older than `guard_s`."""
        now = end.timestamp()
        self._pending.append((now, sums))
        while self._pending and self._pending[0][0] <= now - self.guard_s:
            at, old = self._pending.popleft()
            if not self._frozen:
                self._learn(at, old)
        horizon = int(now - self.guard_s - self.baseline_s) // _HOUR
        if self._hours and min(self._hours) < horizon:
            for hour in [hour for hour in self._hours if hour < horizon]:
                del self._hours[hour]
            self._profile = self._total = None

    def _learn(self, at: float, sums: Sums) -> None:
        hour = int(at - 1e-6) // _HOUR  # a bucket belongs to the hour it ends in
        if hour not in self._hours:
            # The hour-of-day profile is refreshed hourly: recomputing it (a significance
            # test) for every bucket would cost more than all the rest of an update.
            self._profile = None
        self._hours[hour] = self._hours.get(hour, Sums()) + sums
        if self._total is not None:
            self._total = self._total + sums

    def span_s(self) -> float:
        """Seconds from the oldest hour learned to the newest bucket offered."""
        if not self._hours or not self._pending:
            return 0.0
        return self._pending[-1][0] - min(self._hours) * _HOUR

    def total(self) -> Sums:
        if self._total is None:
            found = Sums()
            for sums in self._hours.values():
                found = found + sums
            self._total = found
        return self._total

    def at(self, when: datetime) -> Sums:
        """The sums to judge a bucket at `when` against: its hour of day, or all of them."""
        profile = self._seasonal_profile()
        if profile is None:
            return self.total()
        return profile.get(int(when.timestamp()) // _HOUR % 24, self.total())

    def _seasonal_profile(self) -> dict[int, Sums] | None:
        if not self.seasonal or len(self._hours) < 48:
            return None
        if self._profile is None:
            by_hour: dict[int, Sums] = {}
            for hour, sums in self._hours.items():
                by_hour[hour % 24] = by_hour.get(hour % 24, Sums()) + sums
            self._profile = by_hour if _differs(by_hour, self.kind) else {}
        return self._profile or None

    def to_state(self) -> dict[str, Any]:
        return {
            "pending": [[at, *sums.as_list()] for at, sums in self._pending],
            "hours": {str(hour): sums.as_list() for hour, sums in self._hours.items()},
            "frozen": self._frozen,
            # Kept rather than recomputed: a sum in another order differs in its last bits,
            # and a restored detector must decide exactly as the original would.
            "total": None if self._total is None else self._total.as_list(),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self._pending = deque((float(at), Sums.from_list(rest)) for at, *rest in state["pending"])
        self._hours = {int(hour): Sums.from_list(v) for hour, v in state["hours"].items()}
        self._frozen = bool(state["frozen"])
        self._profile = None
        total = state.get("total")
        self._total = None if total is None else Sums.from_list(total)


def _differs(by_hour: dict[int, Sums], kind: str) -> bool:
    """Whether the hours of the day differ more than chance would make them."""
    hours = [by_hour[h] for h in sorted(by_hour) if by_hour[h].n > 0]
    if len(hours) < 12:
        return False
    n = np.array([s.n for s in hours])
    total = np.array([s.total for s in hours])
    if kind == "rate":
        table = np.array([total, n - total])
        if (table.sum(axis=1) == 0).any():
            return False
        return bool(stats.chi2_contingency(table).pvalue < _SEASONAL_P)
    if kind == "count":
        buckets = np.maximum([s.buckets for s in hours], 1)
        grand = float(total.sum() / buckets.sum())
        if grand <= 0:
            return False
        statistic = float((buckets * (total / buckets - grand) ** 2).sum() / grand)
        return bool(stats.chi2.sf(statistic, len(hours) - 1) < _SEASONAL_P)
    means = total / n
    total_sq = np.array([s.total_sq for s in hours])
    within = float((total_sq - n * means**2).sum()) / max(float(n.sum()) - len(hours), 1.0)
    grand = float(total.sum() / n.sum())
    between = float((n * (means - grand) ** 2).sum()) / (len(hours) - 1)
    if within <= 0:
        return False
    return bool(stats.f.sf(between / within, len(hours) - 1, n.sum() - len(hours)) < _SEASONAL_P)
