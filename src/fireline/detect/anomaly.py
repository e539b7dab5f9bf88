"""Anomalies of a univariate metric stream: new patterns, and unlikely levels."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from fireline.detect.anomaly_categories import CategoryNews
from fireline.detect.anomaly_scores import (
    Ring,
    SeasonalSurprise,
    likelihood,
    nearest,
    robust,
    tail_p,
    z_of,
)
from fireline.detect.base import (
    DEFAULT_FALSE_ALARMS_PER_30_DAYS,
    SECONDS_PER_30_DAYS,
    Direction,
    SignalKind,
    Window,
)

#: Relative standard error of a MAD-based standard deviation, times sqrt(n), for Gaussian data.
_MAD_RELATIVE_SE = 1.17
#: The smallest p-value reported, so its logarithm stays finite.
_MIN_P = 1e-300


class MetricAnomalyDetector:
    """Scores how new the latest pattern of a metric stream is; alarms on an unlikely level.

    Surprise: the latest `pattern` values are compared with every earlier stretch of as many
    values in the baseline (the trailing `patterns` stretches); the largest coordinate gap to
    the nearest one, in robust standard deviations of the trailing `history` values (median
    and MAD), on a log scale, is the surprise; a second one compares the means of `coarse`
    values over `pattern * coarse` values (a slower shape). Each surprise scores how far it
    beats its own largest value so far (its record, `1 - e^-excess`; 0 if it does not), or,
    if higher, Numenta's anomaly likelihood of its latest `likelihood_short` against the
    previous `likelihood_window` (`anomaly_scores.likelihood`, cut at `likelihood_p`). Two
    more surprises score their records: the change since the same time a day earlier
    (`SeasonalSurprise`), and the distance of the mean of the latest `level_span` values to
    the baseline's median (a level shift). `score`, in [0, 1], is the largest of these, or 1
    for a value beyond the range of all earlier values by more than `beyond_range` of it; 0
    for the first `warmup` values, and for `quiet - 1` values after a score of `quiet_score`
    or more (one detection per anomaly). A repeated spike, a daily cycle or a noisy stretch
    score low after their first occurrence.

    NAB protocol (all optional, for the Numenta Anomaly Benchmark, whose runner hands these to
    every detector): `input_min` and `input_max`, the stream's known value range, floor the
    robust standard deviation of the pattern surprises at `range_floor` of the range, of the
    level surprise at `level_range_floor` and of the seasonal one at `seasonal_range_floor`
    (a flat stretch no longer makes a tiny wobble look new), and a value beyond the range of
    all earlier values scores 1 past a margin of `range_margin` of the known range (instead of
    `beyond_range` of the range seen); `probation`, the rows NAB leaves unscored at the start,
    sets the quiet period to `quiet_share` of it instead of `quiet`. The range also sorts shapes
    into ART-style categories (`anomaly_categories.CategoryNews`, `category_*` and `novelty_*`):
    only a new one is news. Without them (fireline's product) the detector is as above.

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
        coarse: int = 4,
        level_span: int = 16,
        likelihood_window: int = 4000,
        likelihood_short: int = 5,
        likelihood_p: float = 1e-7,
        warmup: int = 100,
        quiet: int = 100,
        quiet_score: float = 0.05,
        beyond_range: float = 0.1,
        recovery: int = 5,
        recovery_z: float = 3.0,
        relearn: int = 50,
        input_min: float | None = None,
        input_max: float | None = None,
        probation: int | None = None,
        range_floor: float = 0.015,
        level_range_floor: float = 0.05,
        seasonal_range_floor: float = 0.12,
        range_margin: float = 0.03,
        quiet_share: float = 0.2,
        category_vigilance: float | None = 0.02,
        category_step: int = 4,
        novelty_vigilance: float | None = 0.5,
        novelty_step: int = 8,
    ) -> None:
        if false_alarms_per_30_days <= 0:
            raise ValueError("false_alarms_per_30_days must be positive")
        sizes = (pattern, patterns, coarse, level_span, likelihood_window, likelihood_short)
        if not 2 <= min_history <= history or min(sizes) < 1 or not 0 < likelihood_p < 1:
            raise ValueError("need 2 <= min_history <= history and positive sizes")
        low, high = (input_min, input_max) if input_min is not None else (0.0, input_max)
        if (input_min is None) != (input_max is None) or (high is not None and high < low):
            raise ValueError("give both input_min <= input_max, or neither")
        if probation is not None and probation < 0:
            raise ValueError("probation must be a number of rows")
        self.direction = direction
        self.false_alarms_per_30_days = false_alarms_per_30_days
        self.bucket_s = bucket_s
        self.history = history
        self.min_history = min_history
        self.pattern = pattern
        self.patterns = patterns
        self.coarse = coarse
        self.level_span = level_span
        self.likelihood_window = likelihood_window
        self.likelihood_short = likelihood_short
        self.likelihood_p = likelihood_p
        self.warmup = warmup
        self.quiet = quiet
        self.quiet_score = quiet_score
        self.beyond_range = beyond_range
        self.recovery = recovery
        self.recovery_z = recovery_z
        self.relearn = relearn
        self.input_min = input_min
        self.input_max = input_max
        self.probation = probation
        self.range_floor = range_floor
        self.level_range_floor = level_range_floor
        self.seasonal_range_floor = seasonal_range_floor
        self.range_margin = range_margin
        self.quiet_share = quiet_share
        self.category_vigilance = category_vigilance
        self.category_step = category_step
        self.novelty_vigilance = novelty_vigilance
        self.novelty_step = novelty_step
        #: The known value range (NAB's inputMax - inputMin), 0 when not given.
        known = 0.0 if input_min is None or input_max is None else input_max - input_min
        self._span = known if math.isfinite(known) else 0.0
        self._quiet = max(1, round(quiet_share * probation)) if probation else quiet
        self._categories = CategoryNews.of(
            input_min or 0.0,
            self._span,
            fine=(category_vigilance, category_step),
            coarse=(novelty_vigilance, novelty_step),
            after=max(warmup, probation or 0),
        )
        self._values = Ring(history)
        span = pattern * coarse
        self._recent = Ring(max(span, level_span))
        self._tail = Ring(max(2 * pattern, 2 * span - 1))
        self._patterns = Ring(patterns, pattern)
        self._coarse_patterns = Ring(patterns, pattern)
        self._surprises = Ring(likelihood_window)
        self._coarse_surprises = Ring(likelihood_window)
        #: The largest pattern, coarse, level and seasonal surprise so far (0 in the warm-up).
        self._records = [0.0, 0.0, 0.0, 0.0]
        self._seen = 0
        self._quiet_left = 0
        self._seasonal = SeasonalSurprise(
            history, min_history, floor=seasonal_range_floor * self._span
        )
        self._range: list[float] = []
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
        self._seen += 1
        level_z, surprises = self._surprise_of(value)
        seasonal = self._seasonal.update(value, (x.end - x.start).total_seconds())
        if self._seen <= self.warmup:  # a short baseline makes everything look new
            surprises, seasonal = (0.0, 0.0, 0.0), 0.0
        score = max(
            likelihood(ring, surprise, self.likelihood_short, self.likelihood_p)
            for ring, surprise in zip(
                (self._surprises, self._coarse_surprises), surprises[:2], strict=True
            )
        )
        # A new record of any surprise: a pattern, level or day-on-day change never seen before.
        for k, surprise in enumerate((*surprises, seasonal)):
            if surprise > self._records[k]:
                score = max(score, 1.0 - math.exp(self._records[k] - surprise))
                self._records[k] = surprise
        if self._range:  # a value well outside the range of all values seen so far
            low, high = self._range
            margin = (
                self.range_margin * self._span if self._span else self.beyond_range * (high - low)
            )
            beyond = value > high + margin or value < low - margin
            score = 1.0 if beyond else score
            self._range = [min(low, value), max(high, value)]
        else:
            self._range, beyond = [value, value], False
        if self._categories is not None:  # only a new category of shape is news
            score = self._categories.score(value, score, beyond=beyond)
        if self._seen <= self.warmup:
            score = 0.0
        if self._quiet_left > 0:  # one detection per anomaly: stay quiet for a while after
            self._quiet_left -= 1
            score = 0.0
        elif score >= self.quiet_score:
            self._quiet_left = self._quiet - 1
        self._score = score
        if self._alarmed:
            self._follow_alarm(value, level_z, x)
            return
        p_value = self._p_value(level_z)
        if p_value < self.alpha:
            self._raise(value, p_value, level_z, x)
            self._held.append(value)
            return
        self._learn(value)

    def _surprise_of(self, value: float) -> tuple[float, tuple[float, float, float]]:
        """The robust z-score of the value and the log surprises of the latest values.

        Two patterns: the latest `pattern` values, and the means of `coarse` values over the
        latest `pattern * coarse` values (a slower shape); and the level: the distance of the
        mean of the latest `level_span` values to the baseline's median.
        """
        if self._values.count < self.min_history:
            return 0.0, (0.0, 0.0, 0.0)
        median, sd = robust(self._values.values())
        level_z = (value - median) / sd
        surprises = [0.0, 0.0, 0.0]
        scale = max(sd, self.range_floor * self._span)  # the known range floors the spread
        if self._recent.count >= self.pattern and self._patterns.count:
            surprises[0] = nearest(self._patterns, self._recent.last(self.pattern), scale)
        span = self.pattern * self.coarse
        if self._recent.count >= span and self._coarse_patterns.count:
            latest = self._coarsen(self._recent.last(span))
            surprises[1] = nearest(self._coarse_patterns, latest, scale)
        level = float(self._recent.last(self.level_span).mean())
        scale = max(sd, self.level_range_floor * self._span)
        surprises[2] = math.log1p(abs(level - median) / scale)
        return level_z, (surprises[0], surprises[1], surprises[2])

    def _coarsen(self, values: np.ndarray) -> np.ndarray:
        coarse: np.ndarray = values.reshape(self.pattern, self.coarse).mean(axis=1)
        return coarse

    def _p_value(self, level_z: float) -> float:
        """Gaussian tail probability of the level's z-score in the watched direction.

        The z-score is shrunk by the relative standard error of a MAD (about 1.2 / sqrt(n)),
        so a baseline of few values does not make ordinary values look extreme.
        """
        level_z /= 1.0 + _MAD_RELATIVE_SE / math.sqrt(max(self._values.count, 1))
        return tail_p(level_z, self.direction)

    def _learn(self, value: float) -> None:
        """Add a value, and the pattern that ended `pattern` values ago, to the baseline."""
        self._values.push(value)
        self._tail.push(value)
        if self._tail.count >= 2 * self.pattern:
            self._patterns.push_row(self._tail.last(2 * self.pattern)[: self.pattern])
        span = self.pattern * self.coarse
        if self._tail.count >= 2 * span - 1:
            self._coarse_patterns.push_row(self._coarsen(self._tail.last(2 * span - 1)[:span]))

    def _raise(self, value: float, p_value: float, level_z: float, x: Window) -> None:
        self._alarmed = True
        self._normal_run = 0
        self._evidence = {
            "baseline": float(np.median(self._values.values())),
            "current": value,
            "statistic": level_z,
            "threshold": z_of(self.alpha, self.direction),
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
            "seen": self._seen,
            "quiet_left": self._quiet_left,
            "records": list(self._records),
            "range": list(self._range),
            "seasonal": self._seasonal.to_state(),
            "categories": self._categories.to_state() if self._categories else None,
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
        self._seen = int(state["seen"])
        self._quiet_left = int(state["quiet_left"])
        # A state saved before records were kept: the largest surprises it still remembers.
        rings = (self._surprises, self._coarse_surprises)
        saved = state.get("records") or [
            *(float(r.values().max()) if r.count else 0.0 for r in rings),
            0.0,
            0.0,
        ]
        self._records = [float(v) for v in saved]
        self._range = [float(v) for v in state["range"]]
        self._seasonal.load_state(state["seasonal"])
        if self._categories is not None and state.get("categories"):
            self._categories.load_state(state["categories"])
        self._score = float(state["score"])
        self._alarmed = bool(state["alarmed"])
        self._evidence = dict(state["evidence"])

    def _rings(self) -> dict[str, Ring]:
        return {
            "values": self._values,
            "recent": self._recent,
            "tail": self._tail,
            "patterns": self._patterns,
            "surprises": self._surprises,
            "coarse_patterns": self._coarse_patterns,
            "coarse_surprises": self._coarse_surprises,
        }
