"""CUSUM bank for counts per bucket: volume, sessions, cost per hour."""

from __future__ import annotations

import math
from datetime import datetime
from typing import ClassVar

from scipy import stats

from fireline.detect.base import DEFAULT_FALSE_ALARMS_PER_30_DAYS, Direction, SignalKind, Window
from fireline.detect.baseline import Sums
from fireline.detect.cusum import MAX_RECOVERY_S, CusumDetector, Null


class PoissonCusum(CusumDetector):
    """Alarms when a count per bucket rises or falls from its baseline by one of `shifts`.

    Counts are taken as Poisson around the baseline's mean per bucket (by hour of day when
    traffic has a daily cycle), with the log-likelihood ratio divided by the baseline's
    dispersion (variance over mean, at least 1): real traffic is burstier than Poisson, and
    this quasi-likelihood keeps bursts from paging. A fall by `shift` is watched too unless
    `direction` is UP. An alarm needs `min_n` buckets, and nothing is judged before the
    baseline spans `min_history_s` (two days: enough to learn the daily cycle).

    >>> from datetime import datetime, timedelta, UTC
    >>> from fireline.detect.base import Window
    >>> detector = PoissonCusum(min_history_s=3_600)
    >>> t0, minute = datetime(2026, 1, 1, tzinfo=UTC), timedelta(minutes=1)
    >>> for i in range(120):  # two hours of 100 calls a minute, give or take
    ...     count = 100 + (i * 37) % 21 - 10
    ...     detector.update(Window(t0 + i * minute, t0 + (i + 1) * minute, n=1, total=count))
    >>> detector.drift_detected
    False
    >>> for i in range(120, 123):  # traffic stops
    ...     detector.update(Window(t0 + i * minute, t0 + (i + 1) * minute, n=1, total=0))
    >>> detector.drift_detected, detector.evidence["direction"]
    (True, 'down')
    """

    name: ClassVar[str] = "cusum_poisson"
    kinds: ClassVar[frozenset[SignalKind]] = frozenset({SignalKind.COUNT})
    model: ClassVar[str] = "count"

    def __init__(
        self,
        *,
        direction: Direction = Direction.BOTH,
        shifts: tuple[float, ...] = (1.5, 2.0, 3.0, 5.0, 10.0),
        false_alarms_per_30_days: float = DEFAULT_FALSE_ALARMS_PER_30_DAYS,
        baseline_s: int = 7 * 86_400,
        guard_s: int = 1_800,
        seasonal: bool = True,
        window_s: int = 300,
        recovery_s: int = 600,
        max_recovery_s: int = MAX_RECOVERY_S,
        min_baseline_n: int = 30,
        min_n: int = 1,
        recovery_p: float = 0.05,
        min_history_s: int = 2 * 86_400,
    ) -> None:
        if any(shift <= 1 for shift in shifts):
            raise ValueError("shifts are ratios of counts and must be above 1")
        self.min_history_s = min_history_s
        super().__init__(
            direction=direction,
            shifts=shifts,
            false_alarms_per_30_days=false_alarms_per_30_days,
            baseline_s=baseline_s,
            guard_s=guard_s,
            seasonal=seasonal,
            window_s=window_s,
            recovery_s=recovery_s,
            max_recovery_s=max_recovery_s,
            min_baseline_n=min_baseline_n,
            min_n=min_n,
            recovery_p=recovery_p,
        )

    def _null_for(self, when: datetime) -> Null | None:
        # Traffic follows the day: until two whole days are known, a morning ramp would look
        # like a surge and an evening like an outage, so counts are not judged before then.
        if self._baseline.span_s() < self.min_history_s:
            return None
        return super()._null_for(when)

    def _sums(self, x: Window) -> Sums:
        return Sums(1.0, x.total, x.total * x.total, 1)

    def _null(self, base: Sums) -> Null:
        mean = (base.total + 0.5) / base.n
        variance = max(base.total_sq / base.n - (base.total / base.n) ** 2, 0.0)
        return (mean, max(1.0, variance / mean))

    def _llr(self, x: Window, sums: Sums, null: Null, up: bool, shift: float) -> float:
        mean, dispersion = null
        ratio = shift if up else 1 / shift
        return (x.total * math.log(ratio) - mean * (ratio - 1)) / dispersion

    def _value(self, sums: Sums) -> float:
        return sums.total / sums.n if sums.n else 0.0

    def _beyond_p(self, sums: Sums, null: Null, up: bool, buckets: int) -> float:
        mean, dispersion = null
        expected = mean * sums.n
        z = (sums.total - expected) / math.sqrt(dispersion * expected)
        return float(stats.norm.sf(z) if up else stats.norm.cdf(z))

    def _effect(self, sums: Sums, null: Null, up: bool, buckets: int) -> bool:
        ratio = (sums.total / sums.n) / null[0]
        smallest = min(self.shifts)
        return ratio >= smallest if up else ratio <= 1 / smallest
