"""Distribution drift of a categorical signal by Pearson's chi-square test of homogeneity."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from fireline.detect.base import DEFAULT_FALSE_ALARMS_PER_30_DAYS, SignalKind
from fireline.detect.drift_base import Comparison
from fireline.detect.drift_samples import (
    CategoricalDrift,
    CategoryTable,
    Counts,
    chi2_isf,
    combined_p_value,
    power_divergence,
)


class ChiSquareDriftDetector(CategoricalDrift):
    """Alarms when the shares of categories (finish reasons, models, topics) move.

    Every bucket, the counts of the last `window_s` seconds and of the `baseline_s` seconds
    before form a 2 × k table, tested for homogeneity by a chi-square test at the level that
    spreads `false_alarms_per_30_days` over 30 days of decisions. The statistic is Cressie and
    Read's (λ = 2/3) rather than Pearson's, whose far tail is too heavy for such small levels.
    Categories too rare for the chi-square approximation (expected count below 20) are pooled;
    if even the pool is too rare, its share is tested exactly (hypergeometric) and the two
    p-values are combined by Bonferroni, so a category that appears from nowhere is found
    without rare ones paging on chance (the statistic still counts the pool as a column).
    An alarm also needs Cohen's w = √(Σ (p − q)² / π) over all categories (π the pooled
    shares) of at least `min_effect` (0.1, a small effect), and `min_recent` and
    `min_reference` calls. While alarmed the reference is frozen; the alarm clears once the
    last `recovery_s` is no longer different at level `recovery_p`.

    >>> from datetime import datetime, timedelta, UTC
    >>> from fireline.detect.base import Window
    >>> detector = ChiSquareDriftDetector()
    >>> t0, minute = datetime(2026, 1, 1, tzinfo=UTC), timedelta(minutes=1)
    >>> for i in range(90):  # an hour and a half of finish reasons
    ...     counts = {"stop": 180 + i % 7, "length": 15 + i % 3, "content_filter": 2 + i % 2}
    ...     detector.update(Window(t0 + i * minute, t0 + (i + 1) * minute, categories=counts))
    >>> detector.drift_detected
    False
    >>> for i in range(90, 92):  # the provider starts filtering a third of the answers
    ...     counts = {"stop": 120, "length": 15, "content_filter": 65}
    ...     detector.update(Window(t0 + i * minute, t0 + (i + 1) * minute, categories=counts))
    >>> detector.drift_detected, detector.evidence["category"]
    (True, 'content_filter')
    """

    name: ClassVar[str] = "chi_square_drift"
    kinds: ClassVar[frozenset[SignalKind]] = frozenset({SignalKind.CATEGORICAL})
    test: ClassVar[str] = "chi-square test of homogeneity (Cressie–Read)"

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
            max_recent=None,
            max_reference=None,
            seed=0,
        )

    def _statistic(self, reference: Counts, recent: Counts) -> float:
        return power_divergence(CategoryTable.of(reference, recent).whole)[0]

    def _compare(
        self, reference: Counts, recent: Counts, alpha: float, rng: np.random.Generator
    ) -> Comparison:
        table = CategoryTable.of(reference, recent)
        # The statistic describes every category; the p-value sends the rare ones to the
        # exact test, since the chi-square approximation does not hold for them.
        statistic, _, df = power_divergence(table.whole)
        main_p = power_divergence(table.table)[1]
        m, n = table.sizes
        pooled = (m * table.reference + n * table.recent) / (m + n)
        w = math.sqrt(float(np.sum((table.recent - table.reference) ** 2 / pooled)))
        # The exact test costs more than the rest: only when the effect could raise an alarm.
        rare_p = table.rare_p_value() if w >= self.min_effect else None
        tests = (main_p is not None) + (table.rare_total > 0)
        baseline, current, details = table.evidence()
        return Comparison(
            statistic=statistic,
            effect=w,
            p_value=combined_p_value(main_p, rare_p, tests) if w >= self.min_effect else None,
            threshold=chi2_isf(alpha, df) if df else None,
            baseline=baseline,
            current=current,
            details={**details, "df": df},
        )
