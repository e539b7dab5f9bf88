"""Segments in common: attribute values over-represented among affected calls."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fireline.investigate.stats import benjamini_hochberg, fisher_greater, lift, share

#: Fewest affected calls a value needs to be tested.
MIN_COUNT = 5
#: Largest false discovery rate (Benjamini–Hochberg q-value) called significant.
ALPHA = 0.05


@dataclass(frozen=True, slots=True)
class ValueCount:
    """How many affected and baseline calls have one value of one attribute; `affected_total`
    and `baseline_total`, when given, are the calls it is out of (when not all calls could
    have a value of the attribute, such as the topic of an input text)."""

    dimension: str
    value: str
    affected: int
    baseline: int
    affected_total: int | None = None
    baseline_total: int | None = None


@dataclass(frozen=True, slots=True)
class SegmentFinding:
    """An attribute value and how much more common it is among affected calls."""

    dimension: str
    value: str
    affected: int
    baseline: int
    share_affected: float
    share_baseline: float
    lift: float
    p_value: float
    q_value: float

    @property
    def significant(self) -> bool:
        return self.q_value < ALPHA and self.lift > 1


def in_common(
    counts: Iterable[ValueCount],
    affected_total: int,
    baseline_total: int,
    *,
    min_count: int = MIN_COUNT,
) -> list[SegmentFinding]:
    """Values with at least `min_count` affected calls, most significant first (BH-corrected
    one-sided Fisher tests over all values tested). Each value is out of its own totals if it
    has them, else out of `affected_total` and `baseline_total`.

    >>> found = in_common(
    ...     [ValueCount("tenant", "acme", 30, 25), ValueCount("tenant", "globex", 0, 75)],
    ...     affected_total=30, baseline_total=100,
    ... )
    >>> [(f.value, round(f.lift, 1), f.significant) for f in found]
    [('acme', 4.0, True)]
    """
    tested = [c for c in counts if c.affected >= min_count]
    totals = [
        (
            affected_total if c.affected_total is None else c.affected_total,
            baseline_total if c.baseline_total is None else c.baseline_total,
        )
        for c in tested
    ]
    p_values = [
        fisher_greater(c.affected, total, c.baseline, base)
        for c, (total, base) in zip(tested, totals, strict=True)
    ]
    q_values = benjamini_hochberg(p_values)
    found = [
        SegmentFinding(
            dimension=c.dimension,
            value=c.value,
            affected=c.affected,
            baseline=c.baseline,
            share_affected=share(c.affected, total),
            share_baseline=share(c.baseline, base),
            lift=lift(c.affected, total, c.baseline, base),
            p_value=p,
            q_value=q,
        )
        for c, (total, base), p, q in zip(tested, totals, p_values, q_values, strict=True)
    ]
    return sorted(found, key=lambda f: (f.q_value, f.p_value, -f.lift, f.dimension, f.value))
