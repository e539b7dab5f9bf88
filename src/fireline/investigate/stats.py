"""Small tests of over-representation: lift, Fisher's exact test, multiple-testing correction."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import fisher_exact


def share(part: int, whole: int) -> float:
    """part / whole, 0 for an empty whole.

    >>> share(3, 4), share(1, 0)
    (0.75, 0.0)
    """
    return part / whole if whole else 0.0


def lift(hits: int, total: int, base_hits: int, base_total: int) -> float:
    """How many times more common a value is in a group than in its baseline; the baseline
    count is smoothed by a half (so a value absent from the baseline has a finite lift).

    >>> lift(50, 100, 25, 100)
    2.0
    >>> round(lift(10, 10, 0, 100), 1)
    200.0
    """
    if not total:
        return 0.0
    base = (base_hits if base_hits else 0.5) / base_total if base_total else 1.0
    return (hits / total) / base


def fisher_greater(hits: int, total: int, base_hits: int, base_total: int) -> float:
    """One-sided p-value that a value is more common in a group than in its baseline.

    >>> fisher_greater(40, 50, 10, 50) < 1e-6
    True
    >>> fisher_greater(5, 50, 5, 50) > 0.5
    True
    """
    table = np.array([[hits, total - hits], [base_hits, base_total - base_hits]])
    if min(total, base_total) <= 0:
        return 1.0
    return float(fisher_exact(table, alternative="greater").pvalue)


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """q-values (BH adjusted p-values), in the order given.

    >>> [round(q, 3) for q in benjamini_hochberg([0.01, 0.04, 0.03, 0.5])]
    [0.04, 0.053, 0.053, 0.5]
    """
    size = len(p_values)
    order = sorted(range(size), key=lambda i: p_values[i])
    adjusted = [0.0] * size
    running = 1.0
    for rank in range(size, 0, -1):
        i = order[rank - 1]
        running = min(running, p_values[i] * size / rank)
        adjusted[i] = min(running, 1.0)
    return adjusted
