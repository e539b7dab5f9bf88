"""Error rate of a feature against its own trailing baseline, with an exact test."""

from __future__ import annotations

import math
from collections import deque
from datetime import datetime, timedelta
from typing import Any, ClassVar

import numpy as np
from scipy.stats import fisher_exact

from fireline.detect.base import (
    DEFAULT_FALSE_ALARMS_PER_30_DAYS,
    Direction,
    SignalKind,
    Window,
)
from fireline.domain.incident import IncidentType

_SECONDS_PER_30_DAYS = 30 * 86_400


class ErrorRateDetector:
    """Alarms when the recent error rate is significantly above the trailing baseline.

    Every bucket, the last `window_s` seconds are compared with the `baseline_s` seconds before
    the most recent `recovery_s` by a one-sided Fisher exact test. The significance level is
    the false-alarm budget spread over the tests of 30 days, a Bonferroni bound, so the
    detector raises at most `false_alarms_per_30_days` false alarms in expectation when the
    error rate is stable. `min_ratio` keeps statistically certain but trivial increases on huge
    traffic quiet, and `min_calls`/`min_errors` keep quiet features from alarming on noise.

    While alarmed the baseline is frozen, so a long outage never becomes the new normal. The
    alarm clears when the most recent stretch of at least `recovery_s` seconds and
    `min_calls` calls has its error rate back: not significantly above the baseline at level
    `recovery_p`, and no more than one error above `min_ratio` times the baseline rate. With
    a kill switch on, only a trickle of probe calls arrives, so that stretch grows until it
    holds enough calls, up to `max_recovery_s` (default six times `recovery_s`).

    >>> from datetime import datetime, timedelta, UTC
    >>> from fireline.detect.base import rate_window
    >>> detector = ErrorRateDetector()
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> minute = timedelta(minutes=1)
    >>> for i in range(80):  # an hour and more at 1% errors
    ...     detector.update(rate_window(t0 + i * minute, t0 + (i + 1) * minute, 200, 2))
    >>> detector.drift_detected
    False
    >>> for i in range(80, 82):  # the provider starts failing half the calls
    ...     detector.update(rate_window(t0 + i * minute, t0 + (i + 1) * minute, 200, 100))
    >>> detector.drift_detected
    True
    """

    name: ClassVar[str] = "error_rate"
    kinds: ClassVar[frozenset[SignalKind]] = frozenset({SignalKind.RATE})
    signal: ClassVar[str] = "error_rate"
    incident_type: ClassVar[IncidentType] = IncidentType.AVAILABILITY

    def __init__(
        self,
        *,
        bucket_s: int = 60,
        window_s: int = 300,
        baseline_s: int = 3_600,
        recovery_s: int = 600,
        false_alarms_per_30_days: float = DEFAULT_FALSE_ALARMS_PER_30_DAYS,
        min_calls: int = 30,
        min_errors: int = 5,
        min_baseline_calls: int = 200,
        min_ratio: float = 1.5,
        recovery_p: float = 0.05,
        max_recovery_s: int | None = None,
    ) -> None:
        for name, seconds in (
            ("window_s", window_s),
            ("baseline_s", baseline_s),
            ("recovery_s", recovery_s),
            ("max_recovery_s", max_recovery_s or recovery_s),
        ):
            if seconds < bucket_s or seconds % bucket_s:
                raise ValueError(f"{name} must be a positive multiple of bucket_s ({bucket_s})")
        if max_recovery_s is not None and max_recovery_s < recovery_s:
            raise ValueError("max_recovery_s must be at least recovery_s")
        if false_alarms_per_30_days <= 0:
            raise ValueError("false_alarms_per_30_days must be positive")
        self.bucket_s = bucket_s
        self.window_s = window_s
        self.baseline_s = baseline_s
        self.recovery_s = recovery_s
        self.false_alarms_per_30_days = false_alarms_per_30_days
        self.min_calls = min_calls
        self.min_errors = min_errors
        self.min_baseline_calls = min_baseline_calls
        self.min_ratio = min_ratio
        self.recovery_p = recovery_p
        self.max_recovery_s = max_recovery_s
        self._recent: deque[tuple[str, int, int]] = deque()
        self._baseline: deque[tuple[str, int, int]] = deque(maxlen=baseline_s // bucket_s)
        self._alarmed = False
        self._evidence: dict[str, Any] = {}
        self.direction = Direction.UP

    @property
    def alpha(self) -> float:
        """The significance level of each test, from the false-alarm budget."""
        return self.false_alarms_per_30_days * self.bucket_s / _SECONDS_PER_30_DAYS

    @property
    def drift_detected(self) -> bool:
        return self._alarmed

    @property
    def evidence(self) -> dict[str, Any]:
        return dict(self._evidence)

    @property
    def history_s(self) -> int:
        """How much past the detector needs to be judged fairly from a cold start."""
        return self.baseline_s + max(self.window_s, self.recovery_s)

    @property
    def level(self) -> float | None:
        """The error rate of the last `window_s`, or None with fewer than `min_calls` calls."""
        calls, errors = _sum(list(self._recent)[-(self.window_s // self.bucket_s) :])
        return errors / calls if calls >= self.min_calls else None

    def update(self, x: Window) -> None:
        self._recent.append((x.end.isoformat(), x.n, round(x.total)))
        # While alarmed, recent buckets are kept longer (they may be needed to see recovery)
        # and those that fall out are dropped: the fault must never enter the baseline.
        longest_recovery = self.max_recovery_s or 6 * self.recovery_s
        keep = longest_recovery if self._alarmed else max(self.window_s, self.recovery_s)
        while len(self._recent) > keep // self.bucket_s:
            oldest = self._recent.popleft()
            if not self._alarmed:
                self._baseline.append(oldest)
        if self._alarmed:
            self._check_recovery(x.end)
        else:
            self._check_alarm(x.end)

    def clear(self) -> None:
        """Forget the current alarm (a person closed it), keeping the baseline.

        Buckets of the alarm period are dropped, so if the fault goes on, the detector
        alarms again on fresh evidence.
        """
        if self._alarmed:
            self._recent.clear()
            self._alarmed = False
            self._evidence = {}

    def _check_alarm(self, now: datetime) -> None:
        calls, errors = _sum(list(self._recent)[-(self.window_s // self.bucket_s) :])
        base_calls, base_errors = _sum(self._baseline)
        if (
            base_calls < self.min_baseline_calls
            or calls < self.min_calls
            or errors < self.min_errors
        ):
            return
        rate, base_rate = errors / calls, base_errors / base_calls
        if rate < self.min_ratio * base_rate:
            return
        p_value = _greater_p(errors, calls, base_errors, base_calls)
        if p_value < self.alpha:
            _, latest_calls, latest_errors = self._recent[-1]
            self._alarmed = True
            self._evidence = {
                "window_seconds": self.window_s,
                "window_end": now.isoformat(),
                "calls": calls,
                "errors": errors,
                "error_rate": rate,
                # The window dilutes a fault that began inside it; the last bucket shows how
                # bad it is now, which is what severity should weigh.
                "latest_calls": latest_calls,
                "latest_error_rate": latest_errors / latest_calls if latest_calls else rate,
                "baseline_seconds": self.baseline_s,
                "baseline_calls": base_calls,
                "baseline_errors": base_errors,
                "baseline_error_rate": base_rate,
                "p_value": p_value,
                "alpha": self.alpha,
                "test": "one-sided Fisher exact test",
                "baseline": base_rate,
                "current": rate,
                "latest": latest_errors / latest_calls if latest_calls else rate,
                "latest_n": latest_calls,
                "n": calls,
                "direction": "up",
                # The test's statistic on the scale of a CUSUM's: -log(p) against -log(alpha).
                "statistic": -math.log(max(p_value, 1e-300)),
                "threshold": -math.log(self.alpha),
                "window_start": (now - timedelta(seconds=self.window_s)).isoformat(),
            }

    def _check_recovery(self, now: datetime) -> None:
        stretch = _recovery_stretch(self._recent, self.recovery_s // self.bucket_s, self.min_calls)
        if stretch is None:
            return
        calls, errors = _sum(stretch)
        base_calls, base_errors = _sum(self._baseline)
        base_rate = base_errors / base_calls if base_calls else 0.0
        tolerated = self.min_ratio * base_rate + 1 / calls
        p_value = _greater_p(errors, calls, base_errors, base_calls)
        if p_value > self.recovery_p and errors / calls <= tolerated:
            # Buckets before the recovery stretch still hold the fault: they must neither
            # re-trigger the alarm nor age into the baseline.
            while len(self._recent) > len(stretch):
                self._recent.popleft()
            self._alarmed = False
            self._evidence = {
                "recovery_seconds": len(stretch) * self.bucket_s,
                "window_end": now.isoformat(),
                "calls": calls,
                "errors": errors,
                "error_rate": errors / calls,
                "baseline_error_rate": base_rate,
                "p_value": p_value,
            }

    def to_state(self) -> dict[str, Any]:
        return {
            "recent": [list(bucket) for bucket in self._recent],
            "baseline": [list(bucket) for bucket in self._baseline],
            "alarmed": self._alarmed,
            "evidence": self._evidence,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self._recent = deque((str(e), int(c), int(k)) for e, c, k in state["recent"])
        self._baseline.clear()
        self._baseline.extend((str(e), int(c), int(k)) for e, c, k in state["baseline"])
        self._alarmed = bool(state["alarmed"])
        self._evidence = dict(state["evidence"])


def _recovery_stretch(
    recent: deque[tuple[str, int, int]], min_buckets: int, min_calls: int
) -> list[tuple[str, int, int]] | None:
    """The shortest run of latest buckets with at least `min_buckets` buckets and `min_calls`
    calls, or None when all of `recent` is not enough."""
    calls = 0
    for taken, (_, bucket_calls, _) in enumerate(reversed(recent), start=1):
        calls += bucket_calls
        if taken >= min_buckets and calls >= min_calls:
            return list(recent)[-taken:]
    return None


def _sum(buckets: Any) -> tuple[int, int]:
    calls = errors = 0
    for _, bucket_calls, bucket_errors in buckets:
        calls += bucket_calls
        errors += bucket_errors
    return calls, errors


def _greater_p(errors: int, calls: int, base_errors: int, base_calls: int) -> float:
    """P-value that the recent error rate exceeds the baseline's (one-sided Fisher exact)."""
    if base_calls == 0:
        return 1.0
    table = np.array([[errors, calls - errors], [base_errors, base_calls - base_errors]])
    return float(fisher_exact(table, alternative="greater").pvalue)
