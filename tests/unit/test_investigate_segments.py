"""Segments in common: values over-represented among affected calls are found and ranked by
significance, with the multiple tests corrected for and rare values left out."""

from __future__ import annotations

import numpy as np

from fireline.investigate.segments import ValueCount, in_common
from fireline.investigate.stats import benjamini_hochberg, fisher_greater, lift


def test_the_tenant_that_all_failures_come_from_is_found_first() -> None:
    counts = [
        ValueCount("tenant", "acme", affected=95, baseline=250),
        ValueCount("tenant", "globex", affected=5, baseline=750),
        ValueCount("prompt_version", "v2", affected=100, baseline=0),
    ]
    found = in_common(counts, affected_total=100, baseline_total=1000)
    significant = [(f.dimension, f.value) for f in found if f.significant]
    assert set(significant) == {("tenant", "acme"), ("prompt_version", "v2")}
    acme = next(f for f in found if f.value == "acme")
    assert acme.lift == 3.8
    assert acme.share_affected == 0.95
    assert acme.share_baseline == 0.25
    assert found[-1].value == "globex"
    assert not found[-1].significant


def test_values_with_too_few_affected_calls_are_not_tested() -> None:
    counts = [ValueCount("locale", "fr", affected=3, baseline=0)]
    assert in_common(counts, affected_total=3, baseline_total=100) == []
    assert len(in_common(counts, affected_total=3, baseline_total=100, min_count=3)) == 1


def test_values_spread_as_in_the_baseline_are_not_significant() -> None:
    rng = np.random.default_rng(4)
    values = [f"tenant-{i}" for i in range(20)]
    affected = rng.choice(values, 400)
    baseline = rng.choice(values, 4000)
    counts = [
        ValueCount("tenant", v, int((affected == v).sum()), int((baseline == v).sum()))
        for v in values
    ]
    found = in_common(counts, affected_total=400, baseline_total=4000)
    assert len(found) == 20
    assert not [f for f in found if f.significant]


def test_the_correction_never_lowers_a_p_value_and_keeps_their_order() -> None:
    p = [0.001, 0.2, 0.01, 0.04, 0.03]
    q = benjamini_hochberg(p)
    assert all(qi >= pi for pi, qi in zip(p, q, strict=True))
    assert sorted(range(5), key=lambda i: p[i]) == sorted(range(5), key=lambda i: (q[i], p[i]))
    assert benjamini_hochberg([]) == []


def test_lift_and_fisher_handle_empty_groups() -> None:
    assert lift(0, 0, 5, 10) == 0.0
    assert lift(5, 10, 0, 0) == 0.5  # no baseline: the share itself
    assert fisher_greater(5, 10, 0, 0) == 1.0
