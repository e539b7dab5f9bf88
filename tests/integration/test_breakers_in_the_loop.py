"""A configured circuit breaker trips the feature's guard when the error budget is broken,
probes when half-open, and lifts the guard once the probes are good, tick by tick."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from fireline.clock import SimulatedClock
from fireline.config import parse_config
from fireline.domain.guard import ContainmentLevel
from fireline.runtime import Fireline
from tests.conftest import T0

CONFIG = """
containment:
  breakers:
    search-answers:
      - {metric: error_rate, budget: 0.2, window_s: 120, min_calls: 20, cooldown_s: 120,
         probe_share: 0.5, probe_window_s: 60, min_probe_calls: 5, probes_to_close: 2,
         level: 4}
"""


def minute(app: Fireline, clock: SimulatedClock, rng, error_rate: float, calls: int) -> None:
    start = clock.now()
    rows = [
        (
            i + 1,
            {
                "call_id": f"{start.isoformat()}-{i}",
                "time": (start + timedelta(seconds=float(s))).isoformat(),
                "feature": "search-answers",
                "status": "error" if rng.random() < error_rate else "ok",
            },
        )
        for i, s in enumerate(np.sort(rng.uniform(0, 60, calls)))
    ]
    if rows:
        app.ingest.ingest_rows(rows)
    clock.advance(60)
    app.tick()


def test_a_broken_error_budget_trips_the_guard_and_good_probes_lift_it() -> None:
    clock = SimulatedClock(T0)
    app = Fireline.in_memory(clock, config=parse_config(CONFIG))
    rng = np.random.default_rng(1)
    for _ in range(5):
        minute(app, clock, rng, 0.01, 60)
    assert app.guard("search-answers").level is ContainmentLevel.NONE

    for _ in range(3):
        minute(app, clock, rng, 0.5, 60)
    tripped = app.guard("search-answers")
    assert tripped.level is ContainmentLevel.FEATURE_DISABLED
    assert tripped.set_by == "breaker"
    assert "error_rate breaker" in (tripped.reason or "")

    shares = []
    for _ in range(8):  # cool-down, then half-open probes at half the traffic, all healthy
        minute(app, clock, rng, 0.0, int(60 * app.guard("search-answers").probe_share) or 0)
        shares.append(app.guard("search-answers").probe_share)

    assert 0.5 in shares  # half-open: probing
    assert app.guard("search-answers").level is ContainmentLevel.NONE
    app.close()
