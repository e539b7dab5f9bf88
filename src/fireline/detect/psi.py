"""Distribution drift of a numeric signal by the population stability index (PSI)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from fireline.detect.base import DEFAULT_FALSE_ALARMS_PER_30_DAYS, SignalKind
from fireline.detect.drift_base import Comparison
from fireline.detect.drift_samples import (
    MIN_EXPECTED,
    NumericDrift,
    Values,
    chi2_isf,
    power_divergence,
    summary,
)

#: Added to the count of every bin, so an empty bin does not make the index infinite.
PSEUDO_COUNT = 0.5


class PSIDriftDetector(NumericDrift):
    """Alarms when the population stability index of a numeric signal rises.

    Every bucket, the values of the last `window_s` seconds and of the `baseline_s` seconds
    before are counted in `bins` bins cut at the quantiles of the reference (fewer if a bin
    would expect fewer than 20 values), and PSI = Σ (p − q) ln(p / q) sums over the bins, p
    the recent and q the reference shares. PSI is the symmetrised Kullback–Leibler divergence,
    whose second-order term is Pearson's statistic: under no drift PSI / (1/n + 1/m) is
    asymptotically chi-square with bins − 1 degrees of freedom. Its far tail is too heavy for
    the small levels of a 30-day budget, so the p-value comes from the asymptotically
    equivalent chi-square test of the binned counts with the most accurate tail (Cressie and
    Read's, λ = 2/3); the level of each decision spreads `false_alarms_per_30_days` over 30
    days of decisions. An alarm also needs PSI of at least `min_effect`: 0.2, the customary
    line of a significant shift (0.1 to 0.2 is called moderate), so PSI pages on large moves
    of the distribution and leaves fine ones to `KSDriftDetector`; and `min_recent` recent and
    `min_reference` reference values. Subsampling, frozen reference and recovery work as in
    `KSDriftDetector`.

    >>> from datetime import datetime, timedelta, UTC
    >>> import numpy as np
    >>> from fireline.detect.base import mean_window
    >>> detector, rng = PSIDriftDetector(), np.random.default_rng(1)
    >>> t0, minute = datetime(2026, 1, 1, tzinfo=UTC), timedelta(minutes=1)
    >>> for i in range(90):  # an hour and a half of eval scores
    ...     scores = rng.beta(8, 2, 60)
    ...     detector.update(mean_window(t0 + i * minute, t0 + (i + 1) * minute, scores))
    >>> detector.drift_detected
    False
    >>> for i in range(90, 93):  # a new prompt version scores worse
    ...     scores = rng.beta(5, 3, 60)
    ...     detector.update(mean_window(t0 + i * minute, t0 + (i + 1) * minute, scores))
    >>> detector.drift_detected, detector.evidence["statistic"] >= 0.2
    (True, True)
    """

    name: ClassVar[str] = "psi_drift"
    kinds: ClassVar[frozenset[SignalKind]] = frozenset({SignalKind.NUMERIC})
    test: ClassVar[str] = "population stability index (Cressie–Read chi-square test)"

    def __init__(
        self,
        *,
        bins: int = 10,
        window_s: int = 300,
        baseline_s: int = 3_600,
        recovery_s: int = 600,
        false_alarms_per_30_days: float = DEFAULT_FALSE_ALARMS_PER_30_DAYS,
        min_recent: int = 100,
        min_reference: int = 500,
        min_effect: float = 0.2,
        recovery_p: float = 0.05,
        max_recent: int = 2_000,
        max_reference: int = 10_000,
        seed: int = 0,
    ) -> None:
        if bins < 2:
            raise ValueError("bins must be at least 2")
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
        self.bins = bins

    def _bins_for(self, n: int, m: int) -> int:
        """At most `bins`, fewer when a bin would expect fewer than 20 values of a sample."""
        return max(2, min(self.bins, int(min(n, m) // MIN_EXPECTED)))

    def _statistic(self, reference: Values, recent: Values) -> float:
        return psi(reference, recent, self._bins_for(len(recent), len(reference)))[0]

    def _compare(
        self, reference: Values, recent: Values, alpha: float, rng: np.random.Generator
    ) -> Comparison:
        n, m = len(recent), len(reference)
        index, ref_counts, cur_counts, edges = psi(reference, recent, self._bins_for(n, m))
        table = np.array([ref_counts, cur_counts], dtype=np.float64)
        _, p_value, df = power_divergence(table[:, table.sum(axis=0) > 0])
        # PSI ≈ χ² (1/n + 1/m): the index the test needs, approximately.
        critical = chi2_isf(alpha, max(df, 1)) * (1 / n + 1 / m)
        base, current = summary(reference), summary(recent)
        return Comparison(
            statistic=index,
            effect=index,
            p_value=p_value,
            threshold=max(critical, self.min_effect),
            baseline=base["p50"],
            current=current["p50"],
            details={
                "bin_edges": edges,
                "baseline_bin_shares": [c / m for c in ref_counts],
                "current_bin_shares": [c / n for c in cur_counts],
                "baseline_summary": base,
                "current_summary": current,
            },
        )


def psi(
    reference: Values, recent: Values, bins: int
) -> tuple[float, list[int], list[int], list[float]]:
    """PSI of `recent` against `reference` in up to `bins` quantile bins of the reference.

    Returns the index, the counts of both samples per bin and the inner bin edges. Tied
    quantiles (discrete values) merge bins; bins empty in both samples do not count.
    """
    quantiles = np.quantile(reference, np.arange(1, bins) / bins, method="inverted_cdf")
    edges = np.unique(quantiles)
    ref = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=len(edges) + 1)
    cur = np.bincount(np.searchsorted(edges, recent, side="right"), minlength=len(edges) + 1)
    used = (ref + cur) > 0
    k = int(used.sum())
    q = (ref[used] + PSEUDO_COUNT) / (ref.sum() + PSEUDO_COUNT * k)
    p = (cur[used] + PSEUDO_COUNT) / (cur.sum() + PSEUDO_COUNT * k)
    index = float(np.sum((p - q) * np.log(p / q)))
    return index, [int(c) for c in ref], [int(c) for c in cur], [float(e) for e in edges]
