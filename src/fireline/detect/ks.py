"""Distribution drift of a numeric signal by the two-sample Kolmogorov–Smirnov test."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
from scipy.stats import ks_2samp

from fireline.detect.base import DEFAULT_FALSE_ALARMS_PER_30_DAYS, SignalKind
from fireline.detect.drift_base import Comparison
from fireline.detect.drift_samples import NumericDrift, Values, summary


class KSDriftDetector(NumericDrift):
    """Alarms when the distribution of a numeric signal moves away from its trailing reference.

    Every bucket, the values of the last `window_s` seconds are compared with those of the
    `baseline_s` seconds before by a two-sample Kolmogorov–Smirnov test, at the level that
    spreads `false_alarms_per_30_days` over the decisions of 30 days. The statistic D, the
    largest gap between the two empirical distribution functions, must also reach
    `min_effect`, so huge samples do not page on trivial differences; `min_recent` and
    `min_reference` values keep quiet segments quiet. Each bucket keeps a random subsample,
    so that the window holds about `max_recent` values and the reference `max_reference`.
    While alarmed the reference is frozen; the alarm clears once the last `recovery_s` is no
    longer different at level `recovery_p` (or by less than `min_effect`).

    >>> from datetime import datetime, timedelta, UTC
    >>> import numpy as np
    >>> from fireline.detect.base import mean_window
    >>> detector, rng = KSDriftDetector(), np.random.default_rng(1)
    >>> t0, minute = datetime(2026, 1, 1, tzinfo=UTC), timedelta(minutes=1)
    >>> for i in range(90):  # an hour and a half of response lengths
    ...     lengths = rng.lognormal(6, 0.5, 60)
    ...     detector.update(mean_window(t0 + i * minute, t0 + (i + 1) * minute, lengths))
    >>> detector.drift_detected
    False
    >>> for i in range(90, 93):  # responses come back twice as long
    ...     lengths = rng.lognormal(6 + np.log(2), 0.5, 60)
    ...     detector.update(mean_window(t0 + i * minute, t0 + (i + 1) * minute, lengths))
    >>> detector.drift_detected, detector.evidence["test"]
    (True, 'two-sample Kolmogorov–Smirnov')
    """

    name: ClassVar[str] = "ks_drift"
    kinds: ClassVar[frozenset[SignalKind]] = frozenset({SignalKind.NUMERIC})
    test: ClassVar[str] = "two-sample Kolmogorov–Smirnov"

    def __init__(
        self,
        *,
        window_s: int = 300,
        baseline_s: int = 3_600,
        recovery_s: int = 600,
        false_alarms_per_30_days: float = DEFAULT_FALSE_ALARMS_PER_30_DAYS,
        min_recent: int = 100,
        min_reference: int = 500,
        min_effect: float = 0.1,
        recovery_p: float = 0.05,
        max_recent: int = 2_000,
        max_reference: int = 10_000,
        seed: int = 0,
    ) -> None:
        super().__init__(
            window_s=window_s,
            baseline_s=baseline_s,
            recovery_s=recovery_s,
            false_alarms_per_30_days=false_alarms_per_30_days,
            min_recent=min_recent,
            min_reference=min_reference,
            min_effect=min_effect,
            recovery_p=recovery_p,
            max_recent=max_recent,
            max_reference=max_reference,
            seed=seed,
        )

    def _statistic(self, reference: Values, recent: Values) -> float:
        return ks_distance(reference, recent)

    def _compare(
        self, reference: Values, recent: Values, alpha: float, rng: np.random.Generator
    ) -> Comparison:
        d = ks_distance(reference, recent)
        p_value = None
        if d >= self.min_effect:  # the p-value costs more than D: only when it matters
            p_value = float(ks_2samp(recent, reference, method="asymp").pvalue)
        n, m = len(recent), len(reference)
        # The asymptotic critical value of D at `alpha` (Smirnov).
        critical = math.sqrt(-math.log(alpha / 2) / 2 * (n + m) / (n * m))
        base, current = summary(reference), summary(recent)
        return Comparison(
            statistic=d,
            effect=d,
            p_value=p_value,
            threshold=max(critical, self.min_effect),
            baseline=base["p50"],
            current=current["p50"],
            details={"baseline_summary": base, "current_summary": current},
        )


def ks_distance(a: Values, b: Values) -> float:
    """The Kolmogorov–Smirnov distance: the largest gap between two empirical CDFs."""
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    gap = np.searchsorted(a, grid, side="right") / len(a) - np.searchsorted(
        b, grid, side="right"
    ) / len(b)
    return float(np.max(np.abs(gap)))
