"""Scores for `fireline.detect.anomaly`: a ring buffer, robust spread, Gaussian tails, the
anomaly likelihood, pattern distance, and the surprise of a value against the same time one
day earlier."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.stats import norm

from fireline.detect.base import Direction

_MAD_TO_SD = 1.4826
_DAY_S = 86400.0
#: Longest day, in records, that is followed (shorter steps disable the seasonal score).
_MAX_PERIOD = 20000


class Ring:
    """A fixed-size buffer of floats (or rows of `width` floats), oldest overwritten first."""

    def __init__(self, size: int, width: int = 0) -> None:
        self.data = np.zeros((size, width) if width else size)
        self.count = 0
        self.pos = 0

    def push(self, value: float) -> None:
        self.data[self.pos] = value
        self.pos = (self.pos + 1) % len(self.data)
        self.count = min(self.count + 1, len(self.data))

    def push_row(self, row: np.ndarray) -> None:
        self.data[self.pos] = row
        self.pos = (self.pos + 1) % len(self.data)
        self.count = min(self.count + 1, len(self.data))

    def values(self) -> np.ndarray:
        return self.data if self.count == len(self.data) else self.data[: self.count]

    def last(self, k: int) -> np.ndarray:
        """The `k` most recent values (fewer if not yet seen), oldest first."""
        k = min(k, self.count)
        idx = (self.pos - k + np.arange(k)) % len(self.data)
        return self.data[idx]

    def clear(self) -> None:
        self.count = self.pos = 0

    def to_state(self) -> list[Any]:
        return [self.data[: self.count].tolist(), self.pos]

    def load_state(self, state: list[Any]) -> None:
        values, pos = state
        if values:
            self.data[: len(values)] = values
        self.count, self.pos = len(values), int(pos)


def robust(values: np.ndarray) -> tuple[float, float]:
    """Median and a robust standard deviation (MAD, floored by a share of the spread)."""
    median = float(np.median(values))
    mad = _MAD_TO_SD * float(np.median(np.abs(values - median)))
    spread = float(values.max() - values.min())
    return median, max(mad, 0.05 * spread, 1e-6 * abs(median), 1e-12)


def tail_p(z: float, direction: Direction) -> float:
    """Gaussian tail probability of a z-score in the watched direction (both tails for BOTH)."""
    if direction is Direction.UP:
        return 0.5 * math.erfc(z / math.sqrt(2.0))
    if direction is Direction.DOWN:
        return 0.5 * math.erfc(-z / math.sqrt(2.0))
    return math.erfc(abs(z) / math.sqrt(2.0))


def z_of(alpha: float, direction: Direction) -> float:
    """The |z-score| whose Gaussian tail (both tails when watching both ways) is `alpha`."""
    return float(norm.isf(alpha if direction is not Direction.BOTH else alpha / 2))


def likelihood(ring: Ring, surprise: float, short: int, p_cut: float) -> float:
    """Numenta's anomaly likelihood of a run of surprises, then remember the surprise.

    The mean of the latest `short` surprises (this one included) against a Gaussian of the
    ones in `ring`; its tail p-value, if below `p_cut`, scores `log p / log 1e-12` (capped
    at 1), else 0.
    """
    score = 0.0
    if ring.count:
        past = ring.values()
        mean = float(past.mean())
        sd = math.sqrt(max(float((past * past).mean()) - mean * mean, 1e-6))
        recent = ring.last(short - 1)
        run = (float(recent.sum()) + surprise) / (len(recent) + 1)
        p_value = max(0.5 * math.erfc((run - mean) / sd / math.sqrt(2.0)), 1e-12)
        if p_value < p_cut:
            score = min(1.0, math.log(p_value) / math.log(1e-12))
    ring.push(surprise)
    return score


def nearest(patterns: Ring, latest: np.ndarray, sd: float) -> float:
    """Log surprise: the largest coordinate gap to the nearest stored pattern, in `sd`s."""
    gaps = np.abs(patterns.values() - latest).max(axis=1)
    return math.log1p(float(gaps.min()) / sd)


class SeasonalSurprise:
    """How unusual the change of a value since the same time one day earlier is.

    The day, in records, is fixed from the first record's duration (`step_s`); for records
    longer than half a day or shorter than a day / 20000 the score stays 0. The surprise is
    the change's distance to the median of the last `history` changes, in robust standard
    deviations (at least `floor`), on a log scale (0 until `min_history` changes are known).
    """

    def __init__(self, history: int, min_history: int, floor: float = 0.0) -> None:
        self.history = history
        self.min_history = min_history
        self.floor = floor
        self.period: int | None = None
        self._values = Ring(1)
        self._changes = Ring(history)

    def update(self, value: float, step_s: float) -> float:
        """The surprise of the latest value; then remember it."""
        if self.period is None:
            period = round(_DAY_S / step_s) if step_s > 0 else 0
            self.period = period if 2 <= period <= _MAX_PERIOD else 0
            self._values = Ring(max(self.period, 1))
        if not self.period:
            return 0.0
        surprise = 0.0
        if self._values.count == self.period:
            change = value - float(self._values.last(self.period)[0])
            if self._changes.count >= self.min_history:
                median, sd = robust(self._changes.values())
                surprise = math.log1p(abs(change - median) / max(sd, self.floor))
            self._changes.push(change)
        self._values.push(value)
        return surprise

    def to_state(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "values": self._values.to_state(),
            "changes": self._changes.to_state(),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        period = state["period"]
        self.period = None if period is None else int(period)
        self._values = Ring(max(self.period or 1, 1))
        self._values.load_state(state["values"])
        self._changes.load_state(state["changes"])
