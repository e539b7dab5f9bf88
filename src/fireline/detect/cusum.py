"""CUSUM change detection: a bank of charts, one per size of change, against a learned baseline.

Page's CUSUM is the optimal detector of a change of known size (Lorden 1971, Moustakides
1986): its delay attains the lower bound log(ARL) / KL(after ‖ before). Since the size of a
real change is unknown, a bank of charts covers a geometric grid of sizes and alarms when any
crosses the threshold; the threshold pays log(K) for K charts, a small price next to log(ARL).

Each chart accumulates the log-likelihood ratio of whole windows (the sum over their calls, so
batching loses nothing). Under the baseline, exp(W) is a martingale whose reset-to-zero
excursions cross h with probability at most exp(-h): with h = log(K · decisions / budget),
the expected false alarms over 30 days stay within the budget (Lorden's bound ARL ≥ e^h).
"""

from __future__ import annotations

import math
from collections import deque
from datetime import UTC, datetime
from typing import Any, ClassVar

from fireline.detect.base import (
    Direction,
    SignalKind,
    Window,
    checks_per_30_days,
)
from fireline.detect.baseline import HourlyBaseline, Sums

Null = tuple[float, ...]
#: The longest stretch a recovery may gather its `min_n` observations over: under a kill
#: switch only probe calls arrive, and a feedback rate of a small segment may see twenty an
#: hour, so an hour was too short for an alarm ever to clear.
MAX_RECOVERY_S = 6 * 3_600


class CusumDetector:
    """Shared machinery of the Bernoulli, Gaussian and Poisson CUSUM banks (not a detector).

    Subclasses say how to read a baseline (`_null`), score a window against one chart
    (`_llr`), summarise a stretch (`_value`) and test whether a stretch is still beyond the
    baseline (`_beyond_p`, `_effect`).
    """

    kinds: ClassVar[frozenset[SignalKind]]
    model: ClassVar[str]

    def __init__(
        self,
        *,
        direction: Direction,
        shifts: tuple[float, ...],
        false_alarms_per_30_days: float,
        baseline_s: int,
        guard_s: int,
        seasonal: bool,
        window_s: int,
        recovery_s: int,
        max_recovery_s: int,
        min_baseline_n: int,
        min_n: int,
        recovery_p: float,
    ) -> None:
        if false_alarms_per_30_days <= 0:
            raise ValueError("false_alarms_per_30_days must be positive")
        if not shifts:
            raise ValueError("shifts must name at least one size of change")
        if max_recovery_s < recovery_s:
            raise ValueError("max_recovery_s must be at least recovery_s")
        self.direction = Direction(direction)
        self.shifts = tuple(shifts)
        self.false_alarms_per_30_days = false_alarms_per_30_days
        self.baseline_s = baseline_s
        self.guard_s = guard_s
        self.seasonal = seasonal
        self.window_s = window_s
        self.recovery_s = recovery_s
        self.max_recovery_s = max_recovery_s
        self.min_baseline_n = min_baseline_n
        self.min_n = min_n
        self.recovery_p = recovery_p
        ups = [] if self.direction is Direction.DOWN else [(True, s) for s in self.shifts]
        downs = [] if self.direction is Direction.UP else [(False, s) for s in self.shifts]
        self._charts: list[tuple[bool, float]] = ups + downs
        self._baseline = HourlyBaseline(baseline_s, guard_s, seasonal=seasonal, kind=self.model)
        self._reset_charts()
        self._recent: deque[tuple[float, Sums]] = deque()
        self._bucket = 0.0
        self._alarmed = False
        self._alarm_up = True
        self._null_at_alarm: Null = ()
        self._evidence: dict[str, Any] = {}

    # -- reading -------------------------------------------------------------------------

    @property
    def drift_detected(self) -> bool:
        return self._alarmed

    @property
    def evidence(self) -> dict[str, Any]:
        return dict(self._evidence)

    @property
    def history_s(self) -> int:
        return self.baseline_s + self.guard_s

    @property
    def level(self) -> float | None:
        """The signal over the last `window_s` seconds, None below `min_n`."""
        if not self._recent:
            return None
        latest = self._recent[-1][0]
        sums = _sum(s for end, s in self._recent if end > latest - self.window_s)
        return self._value(sums) if sums.n >= self.min_n else None

    def threshold(self, bucket_s: float) -> float:
        """h for windows of `bucket_s` seconds: log(charts · decisions per 30 days / budget)."""
        decisions = checks_per_30_days(bucket_s) / self.false_alarms_per_30_days
        return math.log(len(self._charts) * decisions)

    # -- learning ------------------------------------------------------------------------

    def update(self, x: Window) -> None:
        sums = self._sums(x)
        end = x.end.timestamp()
        self._bucket = x.seconds
        self._recent.append((end, sums))
        keep = self.max_recovery_s if self._alarmed else max(self.window_s, self.recovery_s)
        while self._recent and self._recent[0][0] <= end - keep:
            self._recent.popleft()
        if self._alarmed:
            self._check_recovery(x)
        else:
            null = self._null_for(x.start)
            if null is not None:
                self._accumulate(x, sums, null)
        self._baseline.add(x.end, sums)

    def clear(self) -> None:
        """Forget the alarm a person closed; if the fault goes on, it alarms again afresh."""
        if self._alarmed:
            self._alarmed = False
            self._evidence = {}
            self._recent.clear()
            self._reset_charts()
            self._baseline.thaw(drop_pending=True)

    def _null_for(self, when: datetime) -> Null | None:
        base = self._baseline.at(when)
        if base.n < self.min_baseline_n:
            base = self._baseline.total()  # a thin hour of day falls back to the whole day
        return self._null(base) if base.n >= self.min_baseline_n else None

    def _reset_charts(self) -> None:
        k = len(self._charts)
        self._w = [0.0] * k
        self._since = [0.0] * k
        self._run = [Sums() for _ in range(k)]

    def _accumulate(self, x: Window, sums: Sums, null: Null) -> None:
        h = self.threshold(x.seconds)
        best = -1
        for j, (up, shift) in enumerate(self._charts):
            w = self._w[j] + self._llr(x, sums, null, up, shift)
            if w <= 0:
                self._w[j], self._run[j] = 0.0, Sums()
                continue
            if self._w[j] == 0:
                self._since[j] = x.start.timestamp()
            self._w[j], self._run[j] = w, self._run[j] + sums
            if w >= h and self._enough(self._run[j], up) and (best < 0 or w > self._w[best]):
                best = j
        if best >= 0:
            self._raise(x, null, best, h)

    def _enough(self, run: Sums, up: bool) -> bool:
        """Minimum-volume rule: a chart may alarm only on `min_n` observations or more."""
        return run.n >= self.min_n

    def _raise(self, x: Window, null: Null, chart: int, h: float) -> None:
        up, shift = self._charts[chart]
        run, w = self._run[chart], self._w[chart]
        self._alarmed, self._alarm_up, self._null_at_alarm = True, up, null
        self._baseline.freeze()
        # Keep only the buckets of the change in `recent`: they decide recovery and level.
        since = self._since[chart]
        while self._recent and self._recent[0][0] <= since:
            self._recent.popleft()
        latest = self._sums(x)
        self._evidence = {
            "baseline": self._baseline_value(null),
            "current": self._value(run),
            "latest": self._value(latest) if latest.n else None,
            "latest_n": latest.n,
            "n": run.n,
            "total": run.total,
            "direction": "up" if up else "down",
            "shift": shift,
            "statistic": w,
            "threshold": h,
            # P(W ever reaches w | baseline) <= exp(-w) per chart: a bound on the p-value.
            "p_value": min(1.0, len(self._charts) * math.exp(-w)),
            "window_start": _iso(since),
            "window_end": x.end.isoformat(),
            "window_seconds": x.end.timestamp() - since,
            "baseline_n": self._baseline.total().n,
            "test": f"CUSUM ({self.model}, {'up' if up else 'down'} {self._describe(shift)})",
        }

    def _check_recovery(self, x: Window) -> None:
        stretch = self._recovery_stretch()
        if stretch is None:
            return
        sums = _sum(s for _, s in stretch)
        null, up = self._null_at_alarm, self._alarm_up
        p_value = self._beyond_p(sums, null, up, len(stretch))
        if p_value > self.recovery_p and not self._effect(sums, null, up, len(stretch)):
            self._alarmed = False
            self._reset_charts()
            self._baseline.thaw(drop_pending=True)
            self._recent = deque(stretch)
            seconds = x.end.timestamp() - (stretch[0][0] - x.seconds)
            self._evidence = {
                "baseline": self._baseline_value(null),
                "current": self._value(sums),
                "n": sums.n,
                "recovery_seconds": seconds,
                "p_value": p_value,
                "window_start": _iso(x.end.timestamp() - seconds),
                "window_end": x.end.isoformat(),
            }

    def _recovery_stretch(self) -> list[tuple[float, Sums]] | None:
        """The shortest run of latest buckets covering `recovery_s` with `min_n` observations.

        Under a kill switch only probe calls arrive, so the run grows (up to what `recent`
        holds, `max_recovery_s`) until it has enough of them.
        """
        if not self._recent:
            return None
        latest = self._recent[-1][0]
        n = 0.0
        for taken, (end, sums) in enumerate(reversed(self._recent), start=1):
            n += sums.n
            if latest - end + self._bucket >= self.recovery_s and n >= self.min_n:
                return list(self._recent)[-taken:]
        return None

    # -- state ---------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        return {
            "baseline": self._baseline.to_state(),
            "w": self._w,
            "since": self._since,
            "run": [run.as_list() for run in self._run],
            "recent": [[end, *sums.as_list()] for end, sums in self._recent],
            "bucket": self._bucket,
            "alarmed": self._alarmed,
            "alarm_up": self._alarm_up,
            "null_at_alarm": list(self._null_at_alarm),
            "evidence": self._evidence,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self._baseline.load_state(state["baseline"])
        self._w = [float(w) for w in state["w"]]
        self._since = [float(s) for s in state["since"]]
        self._run = [Sums.from_list(run) for run in state["run"]]
        self._recent = deque((float(end), Sums.from_list(rest)) for end, *rest in state["recent"])
        self._bucket = float(state["bucket"])
        self._alarmed = bool(state["alarmed"])
        self._alarm_up = bool(state["alarm_up"])
        self._null_at_alarm = tuple(float(v) for v in state["null_at_alarm"])
        self._evidence = dict(state["evidence"])

    # -- the model, in subclasses ----------------------------------------------------------

    def _sums(self, x: Window) -> Sums:
        return Sums(float(x.n), x.total, x.total_sq, 1)

    def _null(self, base: Sums) -> Null:
        raise NotImplementedError

    def _baseline_value(self, null: Null) -> float:
        return null[0]

    def _llr(self, x: Window, sums: Sums, null: Null, up: bool, shift: float) -> float:
        raise NotImplementedError

    def _value(self, sums: Sums) -> float:
        raise NotImplementedError

    def _beyond_p(self, sums: Sums, null: Null, up: bool, buckets: int) -> float:
        raise NotImplementedError

    def _effect(self, sums: Sums, null: Null, up: bool, buckets: int) -> bool:
        raise NotImplementedError

    def _describe(self, shift: float) -> str:
        return f"x{shift:g}"


def _sum(items: Any) -> Sums:
    found = Sums()
    for sums in items:
        found = found + sums
    return found


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()
