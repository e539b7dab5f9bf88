"""Distribution drift of a categorical signal by the Jensen–Shannon distance."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray
from scipy.spatial.distance import jensenshannon

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


class JensenShannonDriftDetector(CategoricalDrift):
    """Alarms when the Jensen–Shannon distance between recent and reference shares grows.

    Every bucket, the shares of categories over the last `window_s` seconds are compared with
    those of the `baseline_s` seconds before. The distance (base 2, between 0 and 1) is the
    square root of the Jensen–Shannon divergence (JSD), whose second-order term is Pearson's
    statistic over 8: under no drift 8 · JSD / (1/n + 1/m), in nats, is asymptotically
    chi-square with k − 1 degrees of freedom. Its far tail is too heavy for the small levels
    of a 30-day budget, so the p-value comes from the asymptotically equivalent test with the
    most accurate tail, `ChiSquareDriftDetector`'s (rare categories pooled or tested exactly
    as there). An alarm needs p below the level that spreads `false_alarms_per_30_days` over
    30 days of decisions, a distance of at least `min_effect`, and `min_recent` and
    `min_reference` calls. While alarmed the reference is frozen; the alarm clears once the
    last `recovery_s` is no longer different at level `recovery_p`.

    >>> from datetime import datetime, timedelta, UTC
    >>> from fireline.detect.base import Window
    >>> detector = JensenShannonDriftDetector()
    >>> t0, minute = datetime(2026, 1, 1, tzinfo=UTC), timedelta(minutes=1)
    >>> for i in range(90):  # an hour and a half of calls routed to two models
    ...     counts = {"small": 150 + i % 9, "large": 50 + i % 4}
    ...     detector.update(Window(t0 + i * minute, t0 + (i + 1) * minute, categories=counts))
    >>> detector.drift_detected
    False
    >>> for i in range(90, 92):  # a routing bug sends everything to the large model
    ...     counts = {"small": 20, "large": 180}
    ...     detector.update(Window(t0 + i * minute, t0 + (i + 1) * minute, categories=counts))
    >>> detector.drift_detected, detector.evidence["category"]
    (True, 'large')
    """

    name: ClassVar[str] = "jensen_shannon_drift"
    kinds: ClassVar[frozenset[SignalKind]] = frozenset({SignalKind.CATEGORICAL})
    test: ClassVar[str] = "Jensen–Shannon distance (Cressie–Read chi-square test)"

    def __init__(
        self,
        *,
        window_s: int = 300,
        baseline_s: int = 3_600,
        recovery_s: int = 600,
        false_alarms_per_30_days: float = DEFAULT_FALSE_ALARMS_PER_30_DAYS,
        min_recent: int = 100,
        min_reference: int = 500,
        min_effect: float = 0.05,
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
        table = CategoryTable.of(reference, recent)
        return _distance(table.reference, table.recent)

    def _compare(
        self, reference: Counts, recent: Counts, alpha: float, rng: np.random.Generator
    ) -> Comparison:
        table = CategoryTable.of(reference, recent)
        distance = _distance(table.reference, table.recent)
        _, main_p, df = power_divergence(table.table)
        # The exact test costs more than the rest: only when the effect could raise an alarm.
        rare_p = table.rare_p_value() if distance >= self.min_effect else None
        tests = (main_p is not None) + (table.rare_total > 0)
        critical = None
        if df:
            ref, cur = table.table
            level = alpha / tests
            # JSD ≈ χ² (1/n + 1/m) / 8 in nats: the distance the test needs, approximately.
            jsd = chi2_isf(level, df) * (1 / ref.sum() + 1 / cur.sum()) / 8
            critical = max(math.sqrt(jsd / math.log(2)), self.min_effect)
        baseline, current, details = table.evidence()
        return Comparison(
            statistic=distance,
            effect=distance,
            p_value=combined_p_value(main_p, rare_p, tests)
            if distance >= self.min_effect
            else None,
            threshold=critical,
            baseline=baseline,
            current=current,
            details=details,
        )


def _distance(p: NDArray[np.float64], q: NDArray[np.float64]) -> float:
    """The Jensen–Shannon distance in base 2, 0 for identical shares."""
    return float(jensenshannon(p, q, base=2))
