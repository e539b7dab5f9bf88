"""CUSUM bank for means: latency, tokens, cost per call, eval scores, edit distance."""

from __future__ import annotations

import math
from typing import ClassVar

from scipy import stats

from fireline.detect.base import DEFAULT_FALSE_ALARMS_PER_30_DAYS, Direction, SignalKind, Window
from fireline.detect.baseline import Sums
from fireline.detect.cusum import MAX_RECOVERY_S, CusumDetector, Null

#: Floor on the per-observation standard deviation, as a share of the mean, so a signal that
#: was constant in its baseline does not make every tiny change infinitely significant.
_MIN_RELATIVE_SD = 0.01


class GaussianCusum(CusumDetector):
    """Alarms when a mean moves from its baseline by one of `shifts` standard deviations.

    Each observation is taken as Gaussian with the baseline's mean and standard deviation
    (learned from the trailing `baseline_s`); a window contributes the log-likelihood ratio
    of all its observations, computed from their count, sum and sum of squares. Feed skewed
    signals (latency, tokens, cost) on a log scale. An alarm needs `min_n` observations.

    >>> from datetime import datetime, timedelta, UTC
    >>> from fireline.detect.base import mean_window
    >>> detector = GaussianCusum()
    >>> t0, minute = datetime(2026, 1, 1, tzinfo=UTC), timedelta(minutes=1)
    >>> for i in range(120):  # two hours of latencies around 800 ms
    ...     values = [700 + 200 * ((i * 7 + k) % 11) / 10 for k in range(50)]
    ...     detector.update(mean_window(t0 + i * minute, t0 + (i + 1) * minute, values))
    >>> detector.drift_detected
    False
    >>> values = [1100 + 200 * (k % 11) / 10 for k in range(50)]  # slower by a third
    >>> detector.update(mean_window(t0 + 120 * minute, t0 + 121 * minute, values))
    >>> detector.drift_detected, detector.evidence["direction"]
    (True, 'up')
    """

    name: ClassVar[str] = "cusum_gaussian"
    kinds: ClassVar[frozenset[SignalKind]] = frozenset({SignalKind.MEAN})
    model: ClassVar[str] = "mean"

    def __init__(
        self,
        *,
        direction: Direction = Direction.UP,
        shifts: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0),
        false_alarms_per_30_days: float = DEFAULT_FALSE_ALARMS_PER_30_DAYS,
        baseline_s: int = 7 * 86_400,
        guard_s: int = 1_800,
        seasonal: bool = True,
        window_s: int = 300,
        recovery_s: int = 600,
        max_recovery_s: int = MAX_RECOVERY_S,
        min_baseline_n: int = 200,
        min_n: int = 30,
        recovery_p: float = 0.05,
    ) -> None:
        if any(shift <= 0 for shift in shifts):
            raise ValueError("shifts are in standard deviations and must be positive")
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
        mean = base.total / base.n
        variance = max(base.total_sq / base.n - mean * mean, 0.0)
        sd = max(math.sqrt(variance), _MIN_RELATIVE_SD * abs(mean), 1e-12)
        return (mean, sd)

    def _llr(self, x: Window, sums: Sums, null: Null, up: bool, shift: float) -> float:
        if x.n == 0:
            return 0.0
        mean, sd = null
        k = shift if up else -shift
        return k * (x.total - x.n * mean) / sd - x.n * k * k / 2

    def _value(self, sums: Sums) -> float:
        return sums.total / sums.n if sums.n else 0.0

    def _beyond_p(self, sums: Sums, null: Null, up: bool, buckets: int) -> float:
        mean, sd = null
        z = (sums.total / sums.n - mean) / (sd / math.sqrt(sums.n))
        return float(stats.norm.sf(z) if up else stats.norm.cdf(z))

    def _effect(self, sums: Sums, null: Null, up: bool, buckets: int) -> bool:
        mean, sd = null
        moved = (sums.total / sums.n - mean) / sd
        return (moved if up else -moved) >= min(self.shifts)

    def _describe(self, shift: float) -> str:
        return f"{shift:g} sd"
