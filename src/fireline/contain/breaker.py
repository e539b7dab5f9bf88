"""Circuit breakers that trip a guard on a budget: cost per hour, error rate, p99 latency.

Each breaker is fed one `Observation` per closed bucket of a feature (`update`), keeps a
rolling window of them, and exposes its state read-only. Closed: trip when the window's
measure breaks the budget with at least `min_calls` behind it. Open: let nothing through
for `cooldown_s`. Half-open: let `probe_share` through; close after `probes_to_close` good
probe windows in a row, re-open on the first bad one.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar


class BreakerState(StrEnum):
    """Where a breaker is; the share of traffic it lets through follows from it."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class Observation:
    """One closed bucket [start, end) of a feature's calls, aggregated."""

    start: datetime
    end: datetime
    calls: int
    errors: int = 0
    cost_usd: float = 0.0
    #: The bucket's p99 latency (None when no call had a latency).
    latency_p99_ms: float | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict."""
        data = asdict(self)
        data["start"], data["end"] = self.start.isoformat(), self.end.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Observation:
        """The inverse of `to_json`."""
        times = {k: datetime.fromisoformat(data[k]) for k in ("start", "end")}
        return cls(**{**data, **times})


class Breaker:
    """The state machine shared by every breaker; subclasses say what they measure."""

    metric: ClassVar[str] = ""
    #: Whether the measure scales with traffic (cost does; rates and latencies do not).
    scales_with_traffic: ClassVar[bool] = False

    def __init__(
        self,
        *,
        budget: float,
        window_s: int = 300,
        min_calls: int = 50,
        cooldown_s: int = 300,
        probe_share: float = 0.05,
        probe_window_s: int = 60,
        min_probe_calls: int = 10,
        probes_to_close: int = 3,
    ) -> None:
        if not 0 < probe_share <= 1:
            raise ValueError("probe_share must be in (0, 1]")
        if probes_to_close < 1 or window_s <= 0 or probe_window_s <= 0:
            raise ValueError("probes_to_close, window_s and probe_window_s must be positive")
        self.budget = budget
        self.window_s = window_s
        self.min_calls = min_calls
        self.cooldown_s = cooldown_s
        self.probe_share = probe_share
        self.probe_window_s = probe_window_s
        self.min_probe_calls = min_probe_calls
        self.probes_to_close = probes_to_close
        self._state = BreakerState.CLOSED
        self._window: deque[Observation] = deque()
        self._probe: list[Observation] = []
        self._good_probes = 0
        self._opened_at: datetime | None = None
        self._evidence: dict[str, Any] = {}

    # -- read-only state ---------------------------------------------------------------

    @property
    def state(self) -> BreakerState:
        return self._state

    @property
    def tripped(self) -> bool:
        """Whether the breaker holds the feature back (open or half-open)."""
        return self._state is not BreakerState.CLOSED

    @property
    def allowed_share(self) -> float:
        """Share of requests the app may send to the model now."""
        return {BreakerState.CLOSED: 1.0, BreakerState.OPEN: 0.0}.get(self._state, self.probe_share)

    @property
    def opened_at(self) -> datetime | None:
        return self._opened_at

    @property
    def evidence(self) -> dict[str, Any]:
        """What the last judgement saw: metric, measure, budget, calls, window, state."""
        return dict(self._evidence)

    # -- what subclasses define ----------------------------------------------------------

    def measure(self, window: list[Observation]) -> float | None:
        """The window's value of the metric (None when nothing measured it)."""
        raise NotImplementedError

    # -- learning ------------------------------------------------------------------------

    def update(self, observation: Observation) -> None:
        """Learn one closed bucket, moving between states as the budget says."""
        if self._state is BreakerState.CLOSED:
            self._update_closed(observation)
        elif self._state is BreakerState.OPEN:
            assert self._opened_at is not None
            # The cool-down counts in event time: it ends with a bucket, not a wall clock.
            if observation.end >= self._opened_at + timedelta(seconds=self.cooldown_s):
                self._state, self._probe, self._good_probes = BreakerState.HALF_OPEN, [], 0
        else:
            self._update_half_open(observation)

    def _update_closed(self, observation: Observation) -> None:
        self._window.append(observation)
        horizon = observation.end - timedelta(seconds=self.window_s)
        while self._window and self._window[0].start < horizon:
            self._window.popleft()
        kept = list(self._window)
        calls = sum(o.calls for o in kept)
        value = self.measure(kept)
        self._judged(kept, value, calls)
        if calls >= self.min_calls and value is not None and value > self.budget:
            self._open(observation.end)

    def _update_half_open(self, observation: Observation) -> None:
        self._probe.append(observation)
        calls = sum(o.calls for o in self._probe)
        span = (self._probe[-1].end - self._probe[0].start).total_seconds()
        if calls < self.min_probe_calls or span < self.probe_window_s:
            return
        value = self.measure(self._probe)
        if value is not None and self.scales_with_traffic:
            value /= self.probe_share  # probes carry a share of traffic; the budget is for all
        self._judged(self._probe, value, calls)
        self._probe = []
        if value is not None and value > self.budget:
            self._open(observation.end)
            return
        self._good_probes += 1
        if self._good_probes >= self.probes_to_close:
            self._state, self._opened_at, self._good_probes = BreakerState.CLOSED, None, 0
            self._window.clear()

    def _open(self, at: datetime) -> None:
        self._state, self._opened_at, self._good_probes = BreakerState.OPEN, at, 0
        self._window.clear()
        self._evidence["state"] = str(self._state)

    def _judged(self, window: list[Observation], value: float | None, calls: int) -> None:
        self._evidence = {
            "metric": self.metric,
            "measure": value,
            "budget": self.budget,
            "calls": calls,
            "window_start": window[0].start.isoformat(),
            "window_end": window[-1].end.isoformat(),
            "state": str(self._state),
        }

    # -- persistence -----------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """The learned state as JSON-safe data (settings come from configuration)."""
        return {
            "metric": self.metric,
            "state": str(self._state),
            "window": [o.to_json() for o in self._window],
            "probe": [o.to_json() for o in self._probe],
            "good_probes": self._good_probes,
            "opened_at": None if self._opened_at is None else self._opened_at.isoformat(),
            "evidence": self._evidence,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what `to_state` saved."""
        if state.get("metric") != self.metric:
            raise ValueError(f"state of a {state.get('metric')} breaker, not {self.metric}")
        self._state = BreakerState(state["state"])
        self._window = deque(Observation.from_json(o) for o in state["window"])
        self._probe = [Observation.from_json(o) for o in state["probe"]]
        self._good_probes = int(state["good_probes"])
        opened = state["opened_at"]
        self._opened_at = None if opened is None else datetime.fromisoformat(opened)
        self._evidence = dict(state["evidence"])


class ErrorRateBreaker(Breaker):
    """Trips when the share of failed calls over the window exceeds `budget`.

    >>> from datetime import datetime, timedelta, UTC
    >>> t0, minute = datetime(2026, 1, 1, tzinfo=UTC), timedelta(minutes=1)
    >>> breaker = ErrorRateBreaker(budget=0.2, min_calls=100, cooldown_s=120)
    >>> for i, errors in enumerate([2, 3, 80]):
    ...     breaker.update(Observation(t0 + i * minute, t0 + (i + 1) * minute, 100, errors))
    >>> breaker.state, breaker.allowed_share
    (<BreakerState.OPEN: 'open'>, 0.0)
    """

    metric = "error_rate"

    def measure(self, window: list[Observation]) -> float | None:
        calls = sum(o.calls for o in window)
        return sum(o.errors for o in window) / calls if calls else None


class CostBreaker(Breaker):
    """Trips when the window's spend, in US dollars per hour, exceeds `budget`.

    >>> from datetime import datetime, timedelta, UTC
    >>> t0, minute = datetime(2026, 1, 1, tzinfo=UTC), timedelta(minutes=1)
    >>> breaker = CostBreaker(budget=60.0, min_calls=10)  # dollars per hour
    >>> breaker.update(Observation(t0, t0 + minute, calls=40, cost_usd=0.5))
    >>> breaker.tripped
    False
    >>> breaker.update(Observation(t0 + minute, t0 + 2 * minute, calls=40, cost_usd=3.0))
    >>> breaker.tripped, round(breaker.evidence["measure"], 1)
    (True, 105.0)
    """

    metric = "cost_per_hour"
    scales_with_traffic = True

    def measure(self, window: list[Observation]) -> float | None:
        hours = (window[-1].end - window[0].start).total_seconds() / 3600
        return sum(o.cost_usd for o in window) / hours if hours > 0 else None


class LatencyBreaker(Breaker):
    """Trips when the window's p99 latency (ms) exceeds `budget`.

    The window's p99 is the call-weighted mean of its buckets' p99s, so one slow bucket
    among many does not trip it: a budget is about sustained breaches.

    >>> from datetime import datetime, timedelta, UTC
    >>> t0, minute = datetime(2026, 1, 1, tzinfo=UTC), timedelta(minutes=1)
    >>> breaker = LatencyBreaker(budget=2000.0, min_calls=50)
    >>> states = []
    >>> for i, p99 in enumerate([900.0, 1000.0, 3900.0, 4100.0]):
    ...     breaker.update(Observation(t0 + i * minute, t0 + (i + 1) * minute, 40,
    ...                                latency_p99_ms=p99))
    ...     states.append(breaker.state.value)
    >>> states
    ['closed', 'closed', 'closed', 'open']
    """

    metric = "latency_p99_ms"

    def measure(self, window: list[Observation]) -> float | None:
        timed = [(o.calls, o.latency_p99_ms) for o in window if o.latency_p99_ms is not None]
        calls = sum(n for n, _ in timed)
        return sum(n * p for n, p in timed) / calls if calls else None


#: Breaker classes by the metric they watch (the `metric` of a breaker's settings).
BREAKERS: dict[str, type[Breaker]] = {
    cls.metric: cls for cls in (ErrorRateBreaker, CostBreaker, LatencyBreaker)
}
