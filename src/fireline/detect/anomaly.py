"""Anomalies of a univariate metric stream: new patterns, and unlikely levels."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from scipy.stats import norm

from fireline.detect.base import (
    DEFAULT_FALSE_ALARMS_PER_30_DAYS,
    SECONDS_PER_30_DAYS,
    Direction,
    SignalKind,
    Window,
)

_MAD_TO_SD = 1.4826
_SQRT2 = math.sqrt(2.0)
#: Relative standard error of a MAD-based standard deviation, times sqrt(n), for Gaussian data.
_MAD_RELATIVE_SE = 1.17
#: The smallest p-value reported, so its logarithm stays finite.
_MIN_P = 1e-300


class _Ring:
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
        self.data[: len(values)] = values
        self.count, self.pos = len(values), int(pos)


def _robust(values: np.ndarray) -> tuple[float, float]:
    """Median and a robust standard deviation (MAD, floored by a share of the spread)."""
    median = float(np.median(values))
    mad = _MAD_TO_SD * float(np.median(np.abs(values - median)))
    spread = float(values.max() - values.min())
    return median, max(mad, 0.05 * spread, 1e-6 * abs(median), 1e-12)


class MetricAnomalyDetector:
    """Scores how new the latest pattern of a metric stream is; alarms on an unlikely level.

    Surprise: the latest `pattern` values are compared with every earlier stretch of as many
    values in the baseline (the trailing `patterns` stretches); the largest coordinate gap to
    the nearest one, in robust standard deviations of the trailing `history` values (median
    and MAD), on a log scale, is the surprise. `score`, in [0, 1], is how far the surprise
    beats the largest of the previous `record_window` surprises (`1 - e^-excess`; 0 if it
    does not): an anomaly is a pattern unlike anything seen for a long while, so a repeated
    spike, a daily cycle or a noisy stretch score low after their first occurrence.

    Alarm (`drift_detected`): the robust z-score of the value, in `direction`, has a Gaussian
    p-value below the false-alarm budget spread over the checks of 30 days (`bucket_s` per
    value). While alarmed the baseline is frozen; the alarm clears when `recovery` values in
    a row are back within `recovery_z`, or, if the change persists for `relearn` values, it
    is taken as the new normal and those values enter the baseline.

    >>> from datetime import datetime, timedelta, UTC
    >>> from fireline.detect.base import mean_window
    >>> detector = MetricAnomalyDetector()
    >>> t0, minute = datetime(2026, 1, 1, tzinfo=UTC), timedelta(minutes=1)
    >>> def at(i, value):
    ...     return mean_window(t0 + i * minute, t0 + (i + 1) * minute, [value])
    >>> for i in range(300):  # CPU load wobbling around 40%
    ...     detector.update(at(i, 40.0 + 3.0 * math.sin(i / 5.0)))
    >>> detector.drift_detected, detector.score < 0.5
    (False, True)
    >>> detector.update(at(300, 95.0))  # a runaway process
    >>> detector.drift_detected, detector.score > 0.5
    (True, True)
    """

    name: ClassVar[str] = "metric_anomaly"
    kinds: ClassVar[frozenset[SignalKind]] = frozenset({SignalKind.MEAN})

    def __init__(
        self,
        *,
        direction: Direction = Direction.BOTH,
        false_alarms_per_30_days: float = DEFAULT_FALSE_ALARMS_PER_30_DAYS,
        bucket_s: int = 60,
        history: int = 500,
        min_history: int = 60,
        pattern: int = 8,
        patterns: int = 1500,
        record_window: int = 2000,
        recovery: int = 5,
        recovery_z: float = 3.0,
        relearn: int = 50,
    ) -> None:
        if false_alarms_per_30_days <= 0:
            raise ValueError("false_alarms_per_30_days must be positive")
        if not 2 <= min_history <= history or pattern < 1 or patterns < 1 or record_window < 1:
            raise ValueError("need 2 <= min_history <= history and positive sizes")
        self.direction = direction
        self.false_alarms_per_30_days = false_alarms_per_30_days
        self.bucket_s = bucket_s
        self.history = history
        self.min_history = min_history
        self.pattern = pattern
        self.patterns = patterns
        self.record_window = record_window
        self.recovery = recovery
        self.recovery_z = recovery_z
        self.relearn = relearn
        self._values = _Ring(history)
        self._recent = _Ring(pattern)
        self._tail = _Ring(2 * pattern)
        self._patterns = _Ring(patterns, pattern)
        self._surprises = _Ring(record_window)
        self._held: list[float] = []
        self._previous: float | None = None
        self._normal_run = 0
        self._score = 0.0
        self._alarmed = False
        self._evidence: dict[str, Any] = {}

    @property
    def alpha(self) -> float:
        """The p-value below which the alarm is raised, from the false-alarm budget."""
        return self.false_alarms_per_30_days * self.bucket_s / SECONDS_PER_30_DAYS

    @property
    def score(self) -> float:
        """The anomaly score of the latest value, in [0, 1]."""
        return self._score

    @property
    def drift_detected(self) -> bool:
        """Whether the stream is in an alarm."""
        return self._alarmed

    @property
    def evidence(self) -> dict[str, Any]:
        """The current alarm's evidence, or right after it clears, the recovery's."""
        return dict(self._evidence)

    @property
    def level(self) -> float | None:
        """The latest value, None before any."""
        return self._previous

    @property
    def history_s(self) -> int:
        """How much past the detector needs to be judged fairly from a cold start."""
        return max(self.history, self.min_history + self.pattern) * self.bucket_s

    def update(self, x: Window) -> None:
        """Score one window's mean, then update the alarm and the baseline."""
        value = x.mean
        if value is None or not math.isfinite(value):
            return
        self._previous = value
        self._recent.push(value)
        level_z, surprise = self._surprise_of(value)
        record = float(self._surprises.values().max()) if self._surprises.count else surprise
        self._score = 1.0 - math.exp(record - surprise) if surprise > record else 0.0
        self._surprises.push(surprise)
        if self._alarmed:
            self._follow_alarm(value, level_z, x)
            return
        p_value = self._p_value(level_z)
        if p_value < self.alpha:
            self._raise(value, p_value, level_z, x)
            self._held.append(value)
            return
        self._learn(value)

    def _surprise_of(self, value: float) -> tuple[float, float]:
        """The robust z-score of the value and the log surprise of the latest pattern."""
        if self._values.count < self.min_history:
            return 0.0, 0.0
        median, sd = _robust(self._values.values())
        level_z = (value - median) / sd
        if self._recent.count < self.pattern or self._patterns.count == 0:
            return level_z, 0.0
        gaps = np.abs(self._patterns.values() - self._recent.last(self.pattern)).max(axis=1)
        return level_z, math.log1p(float(gaps.min()) / sd)

    def _p_value(self, level_z: float) -> float:
        """Gaussian tail probability of the level's z-score in the watched direction.

        The z-score is shrunk by the relative standard error of a MAD (about 1.2 / sqrt(n)),
        so a baseline of few values does not make ordinary values look extreme.
        """
        level_z /= 1.0 + _MAD_RELATIVE_SE / math.sqrt(max(self._values.count, 1))
        if self.direction is Direction.UP:
            return 0.5 * math.erfc(level_z / _SQRT2)
        if self.direction is Direction.DOWN:
            return 0.5 * math.erfc(-level_z / _SQRT2)
        return math.erfc(abs(level_z) / _SQRT2)

    def _learn(self, value: float) -> None:
        """Add a value, and the pattern that ended `pattern` values ago, to the baseline."""
        self._values.push(value)
        self._tail.push(value)
        if self._tail.count == 2 * self.pattern:
            self._patterns.push_row(self._tail.last(2 * self.pattern)[: self.pattern])

    def _raise(self, value: float, p_value: float, level_z: float, x: Window) -> None:
        self._alarmed = True
        self._normal_run = 0
        self._evidence = {
            "baseline": float(np.median(self._values.values())),
            "current": value,
            "statistic": level_z,
            "threshold": _z_of(self.alpha, self.direction),
            "p_value": p_value,
            "window_start": x.start.isoformat(),
            "window_end": x.end.isoformat(),
            "test": "robust z-score (median, MAD) of the value",
            "score": self._score,
        }

    def _follow_alarm(self, value: float, level_z: float, x: Window) -> None:
        self._held.append(value)
        self._normal_run = self._normal_run + 1 if abs(level_z) < self.recovery_z else 0
        if self._normal_run >= self.recovery:
            # The stream is back: the held values were the anomaly and never enter the baseline.
            self._recover("back to normal", x)
            self._held = []
        elif len(self._held) >= self.relearn:
            # The change persists: it is the new normal.
            held, self._held = self._held, []
            self._recover("new normal", x)
            for v in held:
                self._learn(v)

    def _recover(self, how: str, x: Window) -> None:
        self._alarmed = False
        self._evidence = {"recovery": how, "window_end": x.end.isoformat()}

    def clear(self) -> None:
        """Forget the current alarm (a person closed it), keeping the baseline."""
        if self._alarmed:
            self._alarmed = False
            self._held = []
            self._evidence = {}

    def to_state(self) -> dict[str, Any]:
        """The detector's state, JSON-serialisable."""
        return {
            **{key: ring.to_state() for key, ring in self._rings().items()},
            "held": list(self._held),
            "previous": self._previous,
            "normal_run": self._normal_run,
            "score": self._score,
            "alarmed": self._alarmed,
            "evidence": self._evidence,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore a state written by `to_state`."""
        for key, ring in self._rings().items():
            ring.load_state(state[key])
        self._held = [float(v) for v in state["held"]]
        previous = state["previous"]
        self._previous = None if previous is None else float(previous)
        self._normal_run = int(state["normal_run"])
        self._score = float(state["score"])
        self._alarmed = bool(state["alarmed"])
        self._evidence = dict(state["evidence"])

    def _rings(self) -> dict[str, _Ring]:
        return {
            "values": self._values,
            "recent": self._recent,
            "tail": self._tail,
            "patterns": self._patterns,
            "surprises": self._surprises,
        }


def _z_of(alpha: float, direction: Direction) -> float:
    """The |z-score| whose Gaussian tail (both tails when watching both ways) is `alpha`."""
    return float(norm.isf(alpha if direction is not Direction.BOTH else alpha / 2))
