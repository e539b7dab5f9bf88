"""CUSUM bank for rates: errors, refusals, thumbs-down, scanner hits per call."""

from __future__ import annotations

import math
from typing import ClassVar

from scipy import stats

from fireline.detect.base import DEFAULT_FALSE_ALARMS_PER_30_DAYS, Direction, SignalKind, Window
from fireline.detect.baseline import Sums
from fireline.detect.cusum import MAX_RECOVERY_S, CusumDetector, Null


class BernoulliCusum(CusumDetector):
    """Alarms when a rate (hits per call) moves from its baseline by one of `shifts` odds ratios.

    Every call is a Bernoulli trial; a window's log-likelihood ratio is the sum over its calls,
    so the bank is exactly Page's CUSUM over calls, decided once per window. The baseline rate
    is learned from the trailing `baseline_s` (hour of day when traffic has a daily cycle).
    Odds ratios rather than rate ratios keep every chart valid near 0 and near 1. An alarm
    needs `min_hits` hits (`min_n` calls for a fall) since its chart left zero.

    >>> from datetime import datetime, timedelta, UTC
    >>> from fireline.detect.base import rate_window
    >>> detector = BernoulliCusum()
    >>> t0, minute = datetime(2026, 1, 1, tzinfo=UTC), timedelta(minutes=1)
    >>> for i in range(120):  # two hours at 1% errors
    ...     detector.update(rate_window(t0 + i * minute, t0 + (i + 1) * minute, 200, 2))
    >>> detector.drift_detected
    False
    >>> for i in range(120, 123):  # 6% errors: three minutes are enough
    ...     detector.update(rate_window(t0 + i * minute, t0 + (i + 1) * minute, 200, 12))
    >>> detector.drift_detected, detector.evidence["direction"]
    (True, 'up')
    """

    name: ClassVar[str] = "cusum_bernoulli"
    kinds: ClassVar[frozenset[SignalKind]] = frozenset({SignalKind.RATE})
    model: ClassVar[str] = "rate"

    def __init__(
        self,
        *,
        direction: Direction = Direction.UP,
        shifts: tuple[float, ...] = (1.4, 2.0, 3.0, 5.0, 8.0, 15.0, 40.0),
        false_alarms_per_30_days: float = DEFAULT_FALSE_ALARMS_PER_30_DAYS,
        baseline_s: int = 7 * 86_400,
        guard_s: int = 1_800,
        seasonal: bool = True,
        window_s: int = 300,
        recovery_s: int = 600,
        max_recovery_s: int = MAX_RECOVERY_S,
        min_baseline_n: int = 200,
        min_n: int = 30,
        min_hits: int = 5,
        recovery_p: float = 0.05,
    ) -> None:
        if any(shift <= 1 for shift in shifts):
            raise ValueError("shifts are odds ratios and must be above 1")
        self.min_hits = min_hits
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

    def _null(self, base: Sums) -> Null:
        # Jeffreys' estimate: a baseline with no hit yet still gives a rate above zero.
        return ((base.total + 0.5) / (base.n + 1.0),)

    def _llr(self, x: Window, sums: Sums, null: Null, up: bool, shift: float) -> float:
        if x.n == 0:
            return 0.0
        p0 = null[0]
        p1 = _shifted(p0, shift if up else 1 / shift)
        hits = x.total
        return hits * math.log(p1 / p0) + (x.n - hits) * math.log((1 - p1) / (1 - p0))

    def _value(self, sums: Sums) -> float:
        return sums.total / sums.n if sums.n else 0.0

    def _enough(self, run: Sums, up: bool) -> bool:
        return run.n >= self.min_n and (not up or run.total >= self.min_hits)

    def _beyond_p(self, sums: Sums, null: Null, up: bool, buckets: int) -> float:
        n, hits = round(sums.n), round(sums.total)
        if up:
            return float(stats.binom.sf(hits - 1, n, null[0]))
        return float(stats.binom.cdf(hits, n, null[0]))

    def _effect(self, sums: Sums, null: Null, up: bool, buckets: int) -> bool:
        # One hit either way is forgiven: a few probe calls must be able to show recovery.
        smallest = min(self.shifts)
        if up:
            return (sums.total - 1) / sums.n >= _shifted(null[0], smallest)
        return (sums.total + 1) / sums.n <= _shifted(null[0], 1 / smallest)

    def _describe(self, shift: float) -> str:
        return f"odds ratio {shift:g}"


def _shifted(p: float, odds_ratio: float) -> float:
    odds = p / (1 - p) * odds_ratio
    return odds / (1 + odds)
