"""Budgets and SLOs: a hard limit on a level, such as cost per hour or p99 latency."""

from __future__ import annotations

from collections import deque
from datetime import timedelta
from typing import Any, ClassVar

from fireline.detect.base import DEFAULT_FALSE_ALARMS_PER_30_DAYS, Direction, SignalKind, Window


class BudgetDetector:
    """Alarms when a level stays beyond `limit` for `consecutive` buckets in a row.

    A budget is not a statistical question: crossing it is the failure. Its false alarms
    come only from a noisy level crossing for a moment, which `consecutive` (and `min_n`
    calls behind each bucket's level) keep out; `false_alarms_per_30_days` is stated for
    the contract and not spent. The alarm clears once the level has been back within
    `limit` less `hysteresis` (a share of it) for `recovery_s`.

    >>> from datetime import datetime, timedelta, UTC
    >>> from fireline.detect.base import Window
    >>> detector = BudgetDetector(limit=50.0)  # dollars per hour
    >>> t0, minute = datetime(2026, 1, 1, tzinfo=UTC), timedelta(minutes=1)
    >>> alarms = []
    >>> for i, cost in enumerate([20.0, 22.0, 61.0, 75.0, 90.0]):
    ...     detector.update(Window(t0 + i * minute, t0 + (i + 1) * minute, n=100, total=cost))
    ...     alarms.append(detector.drift_detected)
    >>> alarms
    [False, False, False, False, True]
    """

    name: ClassVar[str] = "budget"
    kinds: ClassVar[frozenset[SignalKind]] = frozenset({SignalKind.LEVEL})

    def __init__(
        self,
        *,
        limit: float = 1.0,
        direction: Direction = Direction.UP,
        consecutive: int = 3,
        min_n: int = 1,
        hysteresis: float = 0.1,
        recovery_s: int = 600,
        false_alarms_per_30_days: float = DEFAULT_FALSE_ALARMS_PER_30_DAYS,
    ) -> None:
        if direction is Direction.BOTH:
            raise ValueError("a budget is a limit on one side: direction is up or down")
        if consecutive < 1:
            raise ValueError("consecutive must be at least 1")
        self.limit = limit
        self.direction = Direction(direction)
        self.consecutive = consecutive
        self.min_n = min_n
        self.hysteresis = hysteresis
        self.recovery_s = recovery_s
        self.false_alarms_per_30_days = false_alarms_per_30_days
        self._recent: deque[tuple[str, int, float]] = deque(maxlen=consecutive)
        self._within_since: str | None = None
        self._alarmed = False
        self._evidence: dict[str, Any] = {}

    @property
    def drift_detected(self) -> bool:
        return self._alarmed

    @property
    def evidence(self) -> dict[str, Any]:
        return dict(self._evidence)

    @property
    def level(self) -> float | None:
        return self._recent[-1][2] if self._recent else None

    @property
    def history_s(self) -> int:
        return self.recovery_s

    def _beyond(self, value: float, margin: float = 0.0) -> bool:
        if self.direction is Direction.UP:
            return value > self.limit * (1 - margin)
        return value < self.limit * (1 + margin)

    def update(self, x: Window) -> None:
        if x.n < self.min_n:
            return  # too few calls for the level to mean anything
        self._recent.append((x.end.isoformat(), x.n, x.total))
        if not self._alarmed:
            beyond = [self._beyond(value) for _, _, value in self._recent]
            if len(beyond) == self.consecutive and all(beyond):
                self._raise(x)
            return
        if self._beyond(x.total, self.hysteresis):
            self._within_since = None
            return
        if self._within_since is None:
            self._within_since = x.start.isoformat()
        within_s = (x.end - x.start.fromisoformat(self._within_since)).total_seconds()
        if within_s >= self.recovery_s:
            self._alarmed = False
            self._evidence = {
                "limit": self.limit,
                "current": x.total,
                "recovery_seconds": within_s,
                "window_start": self._within_since,
                "window_end": x.end.isoformat(),
            }
            self._within_since = None

    def _raise(self, x: Window) -> None:
        values = [value for _, _, value in self._recent]
        self._alarmed = True
        self._within_since = None
        self._evidence = {
            "baseline": self.limit,
            "limit": self.limit,
            "current": x.total,
            "latest": x.total,
            "latest_n": x.n,
            "n": sum(n for _, n, _ in self._recent),
            "direction": self.direction.value,
            "statistic": min(values) if self.direction is Direction.UP else max(values),
            "threshold": self.limit,
            "p_value": 0.0,
            "window_start": (x.end - timedelta(seconds=self.consecutive * x.seconds)).isoformat(),
            "window_end": x.end.isoformat(),
            "test": f"hard limit, {self.consecutive} buckets in a row beyond {self.limit:g}",
        }

    def clear(self) -> None:
        if self._alarmed:
            self._alarmed = False
            self._evidence = {}
            self._recent.clear()
            self._within_since = None

    def to_state(self) -> dict[str, Any]:
        return {
            "recent": [list(item) for item in self._recent],
            "within_since": self._within_since,
            "alarmed": self._alarmed,
            "evidence": self._evidence,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self._recent.clear()
        self._recent.extend((str(e), int(n), float(v)) for e, n, v in state["recent"])
        self._within_since = state["within_since"]
        self._alarmed = bool(state["alarmed"])
        self._evidence = dict(state["evidence"])
