"""Onset estimation finds a known change point of a rate or a mean, with an interval and a
likelihood ratio that tell a real change from noise."""

from __future__ import annotations

import numpy as np
import pytest

from fireline.investigate.onset import bernoulli_change_point, gaussian_change_point


def rate_series(
    rng: np.random.Generator, change: int, size: int = 360, before: float = 0.01, after: float = 0.1
) -> tuple[list[int], list[int]]:
    trials = rng.integers(80, 120, size)
    rates = np.where(np.arange(size) < change, before, after)
    return [int(x) for x in rng.binomial(trials, rates)], [int(n) for n in trials]


@pytest.mark.parametrize("seed", range(10))
def test_a_rise_in_a_rate_is_found_at_the_minute_it_happened(seed: int) -> None:
    rng = np.random.default_rng(seed)
    hits, trials = rate_series(rng, change=250)

    found = bernoulli_change_point(hits, trials)

    assert found is not None
    assert abs(found.index - 250) <= 1
    assert found.low <= 250 <= found.high
    assert found.llr > 50
    assert found.before < 0.02 < 0.07 < found.after


def test_a_change_in_the_last_minute_before_detection_is_found() -> None:
    rng = np.random.default_rng(1)
    hits, trials = rate_series(rng, change=359, after=0.5)
    found = bernoulli_change_point(hits, trials)
    assert found is not None
    assert found.index == 359


def test_a_steady_rate_gives_a_small_likelihood_ratio() -> None:
    rng = np.random.default_rng(2)
    hits, trials = rate_series(rng, change=360, size=360)
    found = bernoulli_change_point(hits, trials)
    assert found is None or found.llr < 6


def test_a_fall_is_not_an_onset_when_only_rises_are_looked_for() -> None:
    hits, trials = [9, 8, 9, 10, 1, 0, 1, 0], [10] * 8
    assert bernoulli_change_point(hits, trials, direction=1) is None
    found = bernoulli_change_point(hits, trials, direction=-1)
    assert found is not None
    assert found.index == 4
    either = bernoulli_change_point(hits, trials, direction=0)
    assert either is not None
    assert either.index == 4


def test_empty_minutes_and_too_short_series_are_handled() -> None:
    assert bernoulli_change_point([1], [10]) is None
    assert bernoulli_change_point([0, 0, 0], [0, 0, 0]) is None
    found = bernoulli_change_point([0, 0, 1, 0, 0, 8, 9], [0, 0, 10, 10, 10, 10, 10])
    assert found is not None
    assert found.index == 5


@pytest.mark.parametrize("seed", range(10))
def test_a_rise_in_mean_latency_is_found_where_it_happened(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = np.concatenate([rng.normal(800, 40, 300), rng.normal(1000, 40, 60)])

    found = gaussian_change_point(list(values))

    assert found is not None
    assert abs(found.index - 300) <= 1
    assert found.low <= 300 <= found.high
    assert found.after - found.before == pytest.approx(200, abs=30)


def test_a_fall_in_a_mean_is_found_when_looked_for() -> None:
    values = [0.9, 0.92, 0.88, 0.91, 0.5, 0.52, 0.49]
    assert gaussian_change_point(values, direction=1) is None
    found = gaussian_change_point(values, direction=-1)
    assert found is not None
    assert found.index == 4


def test_a_constant_series_has_no_change() -> None:
    found = gaussian_change_point([5.0] * 20)
    assert found is None or found.llr == 0
