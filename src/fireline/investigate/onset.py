"""Onset: the maximum-likelihood single change point of a per-minute series.

A Bernoulli rate (errors, refusals, scanner hits: failures out of calls per minute) or a
Gaussian mean (latency per minute) is split in two at every minute; the split that makes the
data likeliest is the onset. Its log-likelihood ratio against "no change" says how sure it is,
and the minutes whose split is within `CI_DROP` of the best form an approximate 95 % interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

#: Half the 95 % quantile of chi-square with one degree of freedom: a likelihood-ratio interval.
CI_DROP = 1.92
#: Fewest points on each side of a change point.
MIN_SIDE = 1

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ChangePoint:
    """Where a series changed: the first index of the new regime, and how sure that is."""

    index: int
    low: int
    high: int
    llr: float
    before: float
    after: float


def _xlogy(x: Floats, y: Floats) -> Floats:
    """x * log(y), 0 where x is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, x * np.log(np.where(y > 0, y, 1.0)), 0.0)


def _bernoulli_ll(hits: Floats, trials: Floats) -> Floats:
    """Log-likelihood of `hits` out of `trials` at their own rate, elementwise."""
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(trials > 0, hits / np.where(trials > 0, trials, 1.0), 0.0)
    return _xlogy(hits, rate) + _xlogy(trials - hits, 1.0 - rate)


def _best(
    ll: Floats, whole: float, rates: tuple[Floats, Floats], direction: int
) -> ChangePoint | None:
    """The change point of the split log-likelihoods `ll` (split k = index k + MIN_SIDE)."""
    before, after = rates
    allowed = np.isfinite(ll)
    if direction > 0:
        allowed &= after > before
    elif direction < 0:
        allowed &= after < before
    if not allowed.any():
        return None
    scores = np.where(allowed, ll, -np.inf)
    k = int(np.argmax(scores))
    inside = np.flatnonzero(scores >= scores[k] - CI_DROP)
    return ChangePoint(
        index=k + MIN_SIDE,
        low=int(inside.min()) + MIN_SIDE,
        high=int(inside.max()) + MIN_SIDE,
        llr=max(float(scores[k]) - whole, 0.0),
        before=float(before[k]),
        after=float(after[k]),
    )


def bernoulli_change_point(
    hits: Sequence[float], trials: Sequence[float], *, direction: int = 1
) -> ChangePoint | None:
    """The most likely single change of a rate: `hits` out of `trials` per point.

    `direction` 1 looks for a rise, -1 for a fall, 0 for either.

    >>> cp = bernoulli_change_point([1, 0, 1, 0, 9, 8, 9, 10], [10] * 8)
    >>> cp.index, round(cp.before, 2), round(cp.after, 2)
    (4, 0.05, 0.9)
    >>> cp.llr > 10
    True
    """
    x = np.asarray(hits, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    if len(x) < 2 * MIN_SIDE or n.sum() <= 0:
        return None
    cx, cn = np.cumsum(x), np.cumsum(n)
    left_x, left_n = cx[MIN_SIDE - 1 : -MIN_SIDE], cn[MIN_SIDE - 1 : -MIN_SIDE]
    right_x, right_n = cx[-1] - left_x, cn[-1] - left_n
    ll = _bernoulli_ll(left_x, left_n) + _bernoulli_ll(right_x, right_n)
    ll = np.where((left_n > 0) & (right_n > 0), ll, -np.inf)
    whole = float(_bernoulli_ll(cx[-1:], cn[-1:])[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        before = np.where(left_n > 0, left_x / np.where(left_n > 0, left_n, 1.0), 0.0)
        after = np.where(right_n > 0, right_x / np.where(right_n > 0, right_n, 1.0), 0.0)
    return _best(ll, whole, (before, after), direction)


def gaussian_change_point(values: Sequence[float], *, direction: int = 1) -> ChangePoint | None:
    """The most likely single change of a mean with one common variance.

    >>> cp = gaussian_change_point([100, 102, 98, 101, 99, 300, 305, 298, 302])
    >>> cp.index, round(cp.before), round(cp.after)
    (5, 100, 301)
    """
    y = np.asarray(values, dtype=np.float64)
    size = len(y)
    if size < 2 * MIN_SIDE:
        return None
    cy, cy2 = np.cumsum(y), np.cumsum(y * y)
    k = np.arange(MIN_SIDE, size - MIN_SIDE + 1, dtype=np.float64)
    left, left2 = cy[MIN_SIDE - 1 : size - MIN_SIDE], cy2[MIN_SIDE - 1 : size - MIN_SIDE]
    right, right2 = cy[-1] - left, cy2[-1] - left2
    before, after = left / k, right / (size - k)
    rss = (left2 - left * before) + (right2 - right * after)
    total = cy2[-1] - cy[-1] ** 2 / size
    floor = max(total, 1e-12) * 1e-9 + 1e-12
    ll = -0.5 * size * np.log(np.maximum(rss, floor) / size)
    whole = -0.5 * size * float(np.log(max(total, floor) / size))
    return _best(ll, whole, (before, after), direction)
