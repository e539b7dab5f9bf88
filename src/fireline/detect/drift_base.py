"""Shared machinery of the drift detectors: recent and reference samples, alarm and recovery.

A drift detector keeps the buckets of the last `window_s` seconds (the recent sample) and,
behind them, those of the trailing `baseline_s` seconds (the reference). Every bucket it runs
one two-sample test of recent against reference at the level that spreads the false-alarm
budget over 30 days of decisions (Bonferroni, valid although successive windows overlap).
Samples are capped per bucket by a random subsample drawn from a generator seeded by the
detector's `seed` and the bucket's end time, so a detector restored from its state draws the
same subsamples as the original without any generator state to keep.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np

from fireline.detect.base import Direction, SignalKind, Window, checks_per_30_days

P = TypeVar("P")

#: Purposes of the generators drawn per bucket, so that their streams never coincide.
RECENT_DRAW, REFERENCE_DRAW, TEST_DRAW = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Comparison:
    """One two-sample test of a recent sample against the reference.

    `effect` is the size of the difference that `min_effect` bounds; `p_value` is None when
    the effect was too small for the test to be worth running; `threshold` is the value the
    statistic had to reach at the level tested; `baseline` and `current` summarise the samples.
    """

    statistic: float
    effect: float
    p_value: float | None
    threshold: float | None
    baseline: float
    current: float
    details: dict[str, Any] = field(default_factory=dict)

    def significant(self, alpha: float, min_effect: float) -> bool:
        """Whether the difference is both significant at `alpha` and large enough to matter."""
        return self.p_value is not None and self.p_value <= alpha and self.effect >= min_effect


class DriftDetector(Generic[P]):
    """Base of the drift detectors (not a detector): subclasses say what a sample is and test it.

    Subclasses implement `_payload` (a window's sample), `_pool`, `_volume`, `_subsample`,
    `_encode`/`_decode` (JSON) and the test: `_statistic` (cheap, for `level`) and `_compare`.
    """

    name: ClassVar[str]
    kinds: ClassVar[frozenset[SignalKind]]
    #: The test, as alerts name it.
    test: ClassVar[str]

    def __init__(
        self,
        *,
        window_s: int,
        baseline_s: int,
        recovery_s: int,
        false_alarms_per_30_days: float,
        min_recent: int,
        min_reference: int,
        min_effect: float,
        recovery_p: float,
        max_recent: int | None,
        max_reference: int | None,
        seed: int,
    ) -> None:
        if min(window_s, baseline_s, recovery_s) <= 0:
            raise ValueError("window_s, baseline_s and recovery_s must be positive")
        if false_alarms_per_30_days <= 0:
            raise ValueError("false_alarms_per_30_days must be positive")
        if not 0 < recovery_p < 1:
            raise ValueError("recovery_p must lie between 0 and 1")
        self.direction = Direction.BOTH
        self.window_s = window_s
        self.baseline_s = baseline_s
        self.recovery_s = recovery_s
        self.false_alarms_per_30_days = false_alarms_per_30_days
        self.min_recent = min_recent
        self.min_reference = min_reference
        self.min_effect = min_effect
        self.recovery_p = recovery_p
        self.max_recent = max_recent
        self.max_reference = max_reference
        self.seed = seed
        self._recent: deque[tuple[float, P]] = deque()
        self._reference: deque[tuple[float, P]] = deque()
        self._bucket_s = 0.0
        self._alarmed = False
        self._evidence: dict[str, Any] = {}
        self._level: float | None = None

    @property
    def drift_detected(self) -> bool:
        return self._alarmed

    @property
    def evidence(self) -> dict[str, Any]:
        return dict(self._evidence)

    @property
    def level(self) -> float | None:
        """The statistic of the last `window_s` against the reference; None without enough data."""
        return self._level

    @property
    def history_s(self) -> int:
        return self.baseline_s + max(self.window_s, self.recovery_s)

    def alpha(self, bucket_s: float) -> float:
        """The level of each decision: the false-alarm budget over 30 days of decisions."""
        return self.false_alarms_per_30_days / checks_per_30_days(bucket_s)

    def update(self, x: Window) -> None:
        now, self._bucket_s = x.end.timestamp(), x.seconds
        if not self._alarmed:
            self._evidence = {}  # a recovery's evidence lasts for the bucket that recovered
        cap = _cap(self.max_recent, self.window_s, self._bucket_s)
        self._recent.append((now, self._payload(x, cap, self._rng(now, RECENT_DRAW))))
        self._age(now)
        reference = self._pool([p for _, p in self._reference])
        window = self._since(now - self.window_s)
        enough = self._enough(reference, window)
        if self._alarmed:
            self._level = self._statistic(reference, window) if enough else None
            self._check_recovery(x, reference)
        elif enough:
            alpha = self.alpha(self._bucket_s)
            comparison = self._compare(reference, window, alpha, self._rng(now, TEST_DRAW))
            self._level = comparison.statistic
            if comparison.significant(alpha, self.min_effect):
                self._alarmed = True
                self._evidence = self._describe(
                    x, comparison, alpha, reference, window, self.window_s
                )
        else:
            self._level = None

    def compare(self, reference: P, recent: P, alpha: float) -> Comparison:
        """One test of a recent sample against a reference at level `alpha`, outside a stream."""
        return self._compare(reference, recent, alpha, np.random.default_rng(self.seed))

    def clear(self) -> None:
        """Forget an alarm a person closed, keeping the reference; a lasting fault alarms again."""
        if self._alarmed:
            self._recent.clear()
            self._alarmed = False
            self._evidence = {}
            self._level = None

    def _age(self, now: float) -> None:
        """Move buckets out of the recent sample: into the reference, or away while alarmed."""
        keep = max(self.window_s, self.recovery_s) if self._alarmed else self.window_s
        ref_cap = _cap(self.max_reference, self.baseline_s, self._bucket_s)
        while self._recent and self._recent[0][0] <= now - keep:
            end, payload = self._recent.popleft()
            if not self._alarmed:  # the reference is frozen while alarmed
                sample = self._subsample(payload, ref_cap, self._rng(end, REFERENCE_DRAW))
                self._reference.append((end, sample))
        while len(self._reference) > max(1, round(self.baseline_s / self._bucket_s)):
            self._reference.popleft()

    def _since(self, after: float) -> P:
        return self._pool([p for end, p in self._recent if end > after])

    def _enough(self, reference: P, recent: P) -> bool:
        """Minimum-volume rule: quiet segments do not page on the noise of a few calls."""
        return self._volume(recent) >= self.min_recent and (
            self._volume(reference) >= self.min_reference
        )

    def _check_recovery(self, x: Window, reference: P) -> None:
        """Clear once the last `recovery_s` is no longer different at the relaxed `recovery_p`."""
        now = x.end.timestamp()
        if not self._recent or self._recent[0][0] - self._bucket_s > now - self.recovery_s:
            return  # the alarm is younger than `recovery_s`
        stretch = self._since(now - self.recovery_s)
        if not self._enough(reference, stretch):
            return
        rng = self._rng(now, TEST_DRAW)
        comparison = self._compare(reference, stretch, self.recovery_p, rng)
        if comparison.significant(self.recovery_p, self.min_effect):
            return
        self._alarmed = False
        # Buckets before the stretch held the fault: they must never enter the reference.
        self._recent = deque((e, p) for e, p in self._recent if e > now - self.recovery_s)
        evidence = self._describe(
            x, comparison, self.recovery_p, reference, stretch, self.recovery_s
        )
        self._evidence = {**evidence, "recovery_seconds": self.recovery_s}

    def _describe(
        self,
        x: Window,
        comparison: Comparison,
        alpha: float,
        reference: P,
        recent: P,
        span_s: int,
    ) -> dict[str, Any]:
        """The evidence of an alarm or a recovery: what was compared, and how it came out."""
        first = self._recent[0][0] - self._bucket_s
        return {
            "test": self.test,
            "statistic": comparison.statistic,
            "threshold": comparison.threshold,
            "p_value": comparison.p_value,
            "alpha": alpha,
            "effect": comparison.effect,
            "min_effect": self.min_effect,
            "baseline": comparison.baseline,
            "current": comparison.current,
            "window_start": _iso(max(first, x.end.timestamp() - span_s)),
            "window_end": x.end.isoformat(),
            "recent_n": self._volume(recent),
            "reference_n": self._volume(reference),
            "reference_start": _iso(self._reference[0][0] - self._bucket_s),
            "reference_end": _iso(self._reference[-1][0]),
            **comparison.details,
        }

    def _rng(self, end: float, purpose: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, round(end * 1000) % 2**63, purpose])

    def to_state(self) -> dict[str, Any]:
        return {
            "bucket_s": self._bucket_s,
            "recent": [[end, self._encode(p)] for end, p in self._recent],
            "reference": [[end, self._encode(p)] for end, p in self._reference],
            "alarmed": self._alarmed,
            "evidence": self._evidence,
            "level": self._level,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self._bucket_s = float(state["bucket_s"])
        self._recent = deque((float(end), self._decode(p)) for end, p in state["recent"])
        self._reference = deque((float(end), self._decode(p)) for end, p in state["reference"])
        self._alarmed = bool(state["alarmed"])
        self._evidence = dict(state["evidence"])
        level = state["level"]
        self._level = None if level is None else float(level)

    # -- what a sample is and how to test it, in subclasses --------------------------------

    def _payload(self, x: Window, cap: int | None, rng: np.random.Generator) -> P:
        """The sample of a window, at most `cap` items of it drawn with `rng`."""
        raise NotImplementedError

    def _pool(self, payloads: list[P]) -> P:
        raise NotImplementedError

    def _volume(self, payload: P) -> int:
        raise NotImplementedError

    def _subsample(self, payload: P, cap: int | None, rng: np.random.Generator) -> P:
        return payload

    def _encode(self, payload: P) -> Any:
        raise NotImplementedError

    def _decode(self, data: Any) -> P:
        raise NotImplementedError

    def _statistic(self, reference: P, recent: P) -> float:
        raise NotImplementedError

    def _compare(
        self, reference: P, recent: P, alpha: float, rng: np.random.Generator
    ) -> Comparison:
        raise NotImplementedError


def _cap(total: int | None, span_s: int, bucket_s: float) -> int | None:
    """How many items one bucket may keep so that `span_s` of buckets holds about `total`."""
    if total is None:
        return None
    return max(1, math.ceil(total * bucket_s / span_s))


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()
