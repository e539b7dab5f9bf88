"""The contract every detector follows: `update(window)`, then `drift_detected`, `evidence`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Protocol

#: The false-alarm budget every detector is calibrated to unless told otherwise.
DEFAULT_FALSE_ALARMS_PER_30_DAYS = 1.0
SECONDS_PER_30_DAYS = 30 * 86_400

#: Keys the evidence of every alarm carries, whatever the detector.
EVIDENCE_KEYS = (
    "baseline",
    "current",
    "statistic",
    "threshold",
    "p_value",
    "window_start",
    "window_end",
    "test",
)


class SignalKind(StrEnum):
    """What one bucket of a signal holds, and so which detectors can watch it."""

    #: `n` trials of which `total` were hits: error, refusal or thumbs-down rates.
    RATE = "rate"
    #: `n` values summing to `total` (squares to `total_sq`): latency, tokens, cost, scores.
    MEAN = "mean"
    #: `total` events in the bucket, `n` = 1: volume, cost per hour.
    COUNT = "count"
    #: a sample of numeric `values`: response length, latency, for distribution drift.
    NUMERIC = "numeric"
    #: counts per category in `categories`: finish reasons, models, topics.
    CATEGORICAL = "categorical"
    #: a sample of `texts`: input prompts, for embedding drift.
    TEXT = "text"
    #: one value per bucket computed in the store, in `total` (`n` = calls behind it):
    #: p99 latency, cost per hour, for budgets and SLOs.
    LEVEL = "level"


class Direction(StrEnum):
    """Which way a change must go to be a failure."""

    UP = "up"
    DOWN = "down"
    BOTH = "both"


@dataclass(frozen=True, slots=True)
class Window:
    """One signal of one feature and segment over one bucket of event time [start, end)."""

    start: datetime
    end: datetime
    n: int = 0
    total: float = 0.0
    total_sq: float = 0.0
    values: tuple[float, ...] = ()
    categories: Mapping[str, int] = field(default_factory=dict)
    texts: tuple[str, ...] = ()

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    @property
    def mean(self) -> float | None:
        """`total / n`: the rate of a RATE window, the mean of a MEAN window."""
        return self.total / self.n if self.n else None


def rate_window(start: datetime, end: datetime, calls: int, hits: int) -> Window:
    """A RATE window: `hits` of `calls` (errors of calls, thumbs-down of rated calls)."""
    return Window(start, end, n=calls, total=float(hits))


def mean_window(start: datetime, end: datetime, values: Any) -> Window:
    """A MEAN window over raw values, with the sums the Gaussian detectors need."""
    values = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return Window(
        start,
        end,
        n=len(values),
        total=math.fsum(values),
        total_sq=math.fsum(v * v for v in values),
        values=tuple(values),
    )


class Detector(Protocol):
    """A small online learner: feed it one window at a time and read whether it is alarmed.

    `kinds` are the signal kinds it accepts; `direction` which way of change it watches.
    `evidence` describes the current alarm (empty when not alarmed; every alarm has the
    `EVIDENCE_KEYS`) or, right after it clears, the recovery; `level` is the signal's recent
    value, None without enough data. `history_s` is how much past it needs from a cold start.
    `to_state`/`load_state` let the engine keep detectors across ticks and restarts (JSON);
    `clear` forgets an alarm a person closed, keeping what was learned of the baseline.
    """

    name: ClassVar[str]
    kinds: ClassVar[frozenset[SignalKind]]
    direction: Direction
    false_alarms_per_30_days: float

    def update(self, x: Window) -> None: ...

    @property
    def drift_detected(self) -> bool: ...

    @property
    def evidence(self) -> dict[str, Any]: ...

    @property
    def level(self) -> float | None: ...

    @property
    def history_s(self) -> int: ...

    def clear(self) -> None: ...

    def to_state(self) -> dict[str, Any]: ...

    def load_state(self, state: dict[str, Any]) -> None: ...


def checks_per_30_days(bucket_s: float) -> float:
    """How many times a detector fed one window every `bucket_s` seconds decides in 30 days."""
    return SECONDS_PER_30_DAYS / max(bucket_s, 1.0)
