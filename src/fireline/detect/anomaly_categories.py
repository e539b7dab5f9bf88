"""Categories of recent shapes for `fireline.detect.anomaly`, in the manner of adaptive
resonance theory (ART): a window of the latest values either resonates with a learned
category or founds a new one, and only a new category is news.

Both classes need the stream's known value range (NAB hands it to every detector); without
it the detector does not use them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fireline.detect.anomaly_scores import Ring


class PatternCategories:
    """Categories of the latest `width * step` values, as `width` means of `step` values,
    scaled to the known range (`low`, `low + span`).

    A window resonates with a category (a stored window) when no coordinate differs from it
    by more than `vigilance` (a share of the range); a window that resonates with none is a
    new category, stored while fewer than `capacity` are known (leader clustering: a
    category is never moved, so a slow drift founds new ones as it goes). `update` says
    whether the latest window was new; it is False until `width * step` values are seen.
    """

    def __init__(
        self,
        low: float,
        span: float,
        *,
        width: int = 8,
        step: int = 4,
        vigilance: float = 0.02,
        capacity: int = 4000,
    ) -> None:
        if span <= 0 or not math.isfinite(span) or min(width, step, capacity) < 1:
            raise ValueError("need a positive finite range and positive sizes")
        if vigilance <= 0:
            raise ValueError("vigilance must be positive")
        self.low = low
        self.span = span
        self.width = width
        self.step = step
        self.vigilance = vigilance
        self._recent = Ring(width * step)
        self._categories = Ring(capacity, width)

    @property
    def count(self) -> int:
        """How many categories are known."""
        return self._categories.count

    def update(self, value: float) -> bool:
        """Whether the window ending with this value founds a new category; then learn it."""
        self._recent.push((value - self.low) / self.span)
        if self._recent.count < self.width * self.step:
            return False
        window = self._recent.last(self.width * self.step).reshape(self.width, self.step)
        latest = window.mean(axis=1)
        known = self._categories
        if known.count:
            gaps = np.abs(known.values() - latest).max(axis=1)
            if float(gaps.min()) <= self.vigilance:
                return False
        if known.count < len(known.data):
            known.push_row(latest)
        return True

    def to_state(self) -> dict[str, Any]:
        return {"recent": self._recent.to_state(), "categories": self._categories.to_state()}

    def load_state(self, state: dict[str, Any]) -> None:
        self._recent.load_state(state["recent"])
        self._categories.load_state(state["categories"])


class CategoryNews:
    """Two vigilances over the known range (ART's dual vigilance), applied to a score.

    Fine categories (`fine_vigilance`, means of `fine_step` values) gate the score: a window
    that resonates with a known fine category scores 0 unless the value is beyond the range
    (a shape already seen, in the range's terms, is not news however small the spread that
    made it look new). Coarse categories (`coarse_vigilance`, means of `coarse_step` values)
    add: once `after` values are seen, a new coarse category scores at least `coarse_score`
    (a shape far from every earlier one, even where the surprises stay below their records).
    Either vigilance may be None to leave its part out.
    """

    def __init__(
        self,
        low: float,
        span: float,
        *,
        fine_vigilance: float | None = 0.02,
        fine_step: int = 4,
        coarse_vigilance: float | None = 0.5,
        coarse_step: int = 8,
        coarse_score: float = 0.5,
        after: int = 0,
    ) -> None:
        self.fine = (
            None
            if fine_vigilance is None
            else PatternCategories(low, span, step=fine_step, vigilance=fine_vigilance)
        )
        self.coarse = (
            None
            if coarse_vigilance is None
            else PatternCategories(low, span, step=coarse_step, vigilance=coarse_vigilance)
        )
        self.coarse_score = coarse_score
        self.after = after
        self._seen = 0

    @classmethod
    def of(
        cls,
        low: float,
        span: float,
        *,
        fine: tuple[float | None, int],
        coarse: tuple[float | None, int],
        after: int,
    ) -> CategoryNews | None:
        """The categories of (vigilance, step) `fine` and `coarse`; None without a range."""
        if span <= 0 or not math.isfinite(span):
            return None
        return cls(
            low,
            span,
            fine_vigilance=fine[0],
            fine_step=fine[1],
            coarse_vigilance=coarse[0],
            coarse_step=coarse[1],
            after=after,
        )

    def score(self, value: float, score: float, *, beyond: bool) -> float:
        """The score of the latest value, given the surprises' `score` and whether the value
        is `beyond` the range of all earlier values."""
        self._seen += 1
        if self.fine is not None and not self.fine.update(value) and not beyond:
            score = 0.0
        if self.coarse is not None and self.coarse.update(value) and self._seen > self.after:
            score = max(score, self.coarse_score)
        return score

    def to_state(self) -> dict[str, Any]:
        return {
            "seen": self._seen,
            **{k: c.to_state() for k, c in (("fine", self.fine), ("coarse", self.coarse)) if c},
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self._seen = int(state["seen"])
        for key, categories in (("fine", self.fine), ("coarse", self.coarse)):
            if categories is not None:
                categories.load_state(state[key])
