"""Runs a scenario through the whole loop on a simulated clock and scores the response.

The simulated app serves each stretch of traffic under the guards in force, fireline ingests
it and ticks: detection, triage, containment and staged restoration run as in production.
At the end the fault's incident is investigated (onset, suspects, blast radius), its
regression evals are extracted and its review drafted, and all of it is scored against the
scenario's expected outcome.

Ticks come every minute while it matters: from shortly before each fault's onset or deploy
until two hours after it, and while an incident detected in the last six hours is open;
otherwise every 15 minutes. Detection runs in event time over closed buckets, so the cadence
changes when an alert is seen, never whether it fires.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from fireline.clock import SimulatedClock
from fireline.domain.alert import Alert
from fireline.drill.app import SimulatedApp
from fireline.drill.score import Outcome, score
from fireline.drill.scorecard import Scorecard
from fireline.drill.spec import ScenarioSpec
from fireline.runtime import Fireline

#: Tick cadence when a reaction's timing matters, and otherwise.
FINE_TICK_S = 60
COARSE_TICK_S = 900
#: Fine ticks from this long before a fault's onset or a deploy to this long after it.
FINE_BEFORE_S = 300
FINE_AFTER_S = 7_200
#: Fine ticks while an incident detected this recently is open.
FINE_WHILE_OPEN_S = 6 * 3_600


def run_drill(
    spec: ScenarioSpec,
    *,
    seed: int = 0,
    progress: Callable[[float], None] | None = None,
) -> Scorecard:
    """Replay `spec` with `seed` through the whole loop and score the response."""
    started = time.perf_counter()
    clock = SimulatedClock(spec.start)
    app = Fireline.in_memory(clock, config=spec.config)
    simulated = SimulatedApp(spec, seed, eval_pass=spec.config.detection.eval_pass_threshold)
    outcome = Outcome()
    fired: list[Alert] = []
    names = [f.name for f in spec.features]
    try:
        while clock.now() < spec.end:
            now = clock.now()
            until = _next_tick(spec, app, now)
            served = simulated.serve(now, until, {name: app.guard(name) for name in names})
            outcome.add(served)
            if served.changes:
                with app.state.unit_of_work() as tx:
                    tx.add_changes(served.changes)
            if served.columns["call_id"]:
                outcome.recorded += app.ingest.ingest_columns(served.columns).accepted
            if served.feedback:
                app.telemetry.insert_new_feedback(served.feedback)
            clock.advance((until - now).total_seconds())
            fired.extend(app.tick().alerts)
            if progress is not None:
                progress((until - spec.start).total_seconds() / spec.duration)
        return score(spec, seed, app, fired, outcome, wall_s=time.perf_counter() - started)
    finally:
        app.close()


def _next_tick(spec: ScenarioSpec, app: Fireline, now: datetime) -> datetime:
    """When the next tick comes: in a minute when timing matters, else at the next quarter
    hour, never past the next stretch that matters or the end."""
    offset = (now - spec.start).total_seconds()
    moments = [f.onset for f in spec.faults] + [c.at for c in spec.changes]
    fine = any(m - FINE_BEFORE_S <= offset < m + FINE_AFTER_S for m in moments)
    if not fine:
        since = now - timedelta(seconds=FINE_WHILE_OPEN_S)
        fine = any(i.detected_at >= since for i in app.list_incidents(open_only=True))
    step = FINE_TICK_S if fine else COARSE_TICK_S
    upcoming = [m - FINE_BEFORE_S for m in moments if m - FINE_BEFORE_S > offset]
    end = min([offset + step, spec.duration, *upcoming])
    # Whole minutes keep ticks on bucket edges.
    end = max(offset + FINE_TICK_S, end - end % FINE_TICK_S) if end < spec.duration else end
    return spec.start + timedelta(seconds=min(end, spec.duration))


__all__ = ["COARSE_TICK_S", "FINE_TICK_S", "run_drill"]
