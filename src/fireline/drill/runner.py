"""Runs a scenario through the whole loop on a simulated clock and scores the response."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from fireline.clock import SimulatedClock
from fireline.domain.alert import Alert
from fireline.domain.guard import ContainmentLevel
from fireline.domain.incident import Incident, IncidentState
from fireline.drill.scenario import Scenario
from fireline.drill.scorecard import Scorecard
from fireline.drill.traffic import SimulatedApp
from fireline.runtime import Fireline

#: How often the simulated app re-reads its guard and fireline runs detection.
TICK_S = 60
#: Longest a detection may come after the fault ends and still count as detecting it.
DETECTION_GRACE_S = 600


def run_drill(
    scenario: Scenario,
    *,
    seed: int = 0,
    progress: Callable[[float], None] | None = None,
) -> Scorecard:
    """Replay `scenario` with `seed` through ingest, detection, triage and containment."""
    started = time.perf_counter()
    clock = SimulatedClock(scenario.start)
    app = Fireline.in_memory(clock)
    simulated = SimulatedApp(scenario, seed)
    feature = scenario.feature
    guard = app.guard(feature)
    fired: list[Alert] = []
    fallback = failed_for_users = recorded = 0
    ticks = scenario.duration_s // TICK_S
    try:
        for tick in range(ticks):
            now = clock.now()
            served = simulated.serve(now, now + timedelta(seconds=TICK_S), guard)
            recorded += app.ingest.ingest_calls(served.calls).accepted
            fallback += served.fallback
            failed_for_users += served.failed_for_users
            clock.advance(TICK_S)
            fired.extend(app.tick().alerts)
            guard = app.guard(feature)  # the app polls its guard once per tick
            if progress is not None:
                progress((tick + 1) / ticks)
        return _score(
            scenario,
            seed,
            app,
            fired,
            recorded=recorded,
            fallback=fallback,
            failed_for_users=failed_for_users,
            wall_seconds=time.perf_counter() - started,
        )
    finally:
        app.close()


def _score(
    scenario: Scenario,
    seed: int,
    app: Fireline,
    fired: list[Alert],
    *,
    recorded: int,
    fallback: int,
    failed_for_users: int,
    wall_seconds: float,
) -> Scorecard:
    fault = scenario.fault
    onset = scenario.at(fault.onset_s) if fault else None
    fault_end = scenario.at(fault.onset_s + fault.duration_s) if fault else None

    def explains_fault(at: datetime) -> bool:
        return (
            onset is not None
            and fault_end is not None
            and onset <= at <= fault_end + timedelta(seconds=DETECTION_GRACE_S)
        )

    true_alerts = [a for a in fired if explains_fault(a.fired_at)]
    false_alarms = len(fired) - len(true_alerts)
    incidents = app.list_incidents()
    incident = None
    if true_alerts:
        incident = next(
            (
                i
                for i in incidents
                if i.feature == scenario.feature and explains_fault(i.detected_at)
            ),
            None,
        )

    levels: list[int] = []
    cleared = False
    timeline: list[str] = []
    if incident is not None and incident.incident_id is not None:
        with app.state.unit_of_work() as tx:
            for entry in tx.timeline(incident.incident_id):
                if entry.kind == "guard_set":
                    levels.append(int(entry.data["level"]))
                cleared = cleared or entry.kind == "guard_cleared"
                timeline.append(f"{entry.at:%H:%M:%S} {entry.actor}: {entry.kind}: {entry.message}")
        cleared = cleared and app.guard(scenario.feature).level == ContainmentLevel.NONE

    detected_at = true_alerts[0].fired_at if true_alerts else None
    resolved_at = incident.time_of(IncidentState.RESOLVED) if incident else None
    failures = _failures(scenario, detected_at, onset, incident, levels, false_alarms)
    return Scorecard(
        scenario=scenario.name,
        seed=seed,
        detected=detected_at is not None,
        time_to_detect_s=_seconds(onset, detected_at),
        severity=incident.severity.value if incident else None,
        incident_type=incident.type.value if incident else None,
        containment_level=max(levels, default=0),
        kill_switch_set=ContainmentLevel.FEATURE_DISABLED in levels,
        kill_switch_cleared=cleared,
        false_alarms=false_alarms,
        resolved=resolved_at is not None,
        time_to_resolve_after_fault_s=_seconds(fault_end, resolved_at),
        fault_onset=onset.isoformat() if onset else None,
        fault_end=fault_end.isoformat() if fault_end else None,
        detected_at=detected_at.isoformat() if detected_at else None,
        resolved_at=resolved_at.isoformat() if resolved_at else None,
        incidents=len(incidents),
        calls_recorded=recorded,
        requests_served_by_fallback=fallback,
        failed_requests_seen_by_users=failed_for_users,
        simulated_seconds=scenario.duration_s,
        wall_seconds=round(wall_seconds, 3),
        passed=not failures,
        failures=failures,
        timeline=timeline,
    )


def _failures(
    scenario: Scenario,
    detected_at: datetime | None,
    onset: datetime | None,
    incident: Incident | None,
    levels: list[int],
    false_alarms: int,
) -> list[str]:
    failures = []
    if false_alarms:
        failures.append(f"{false_alarms} false alarm(s)")
    fault = scenario.fault
    if fault is None:
        return failures
    if detected_at is None or onset is None or incident is None:
        return [*failures, "fault not detected"]
    if incident.type is not fault.expected_type:
        failures.append(f"type {incident.type}, expected {fault.expected_type}")
    if incident.severity not in fault.expected_severities:
        expected = "/".join(sorted(fault.expected_severities))
        failures.append(f"severity {incident.severity}, expected {expected}")
    level = max(levels, default=0)
    if level != fault.expected_containment:
        failures.append(f"containment level {level}, expected {int(fault.expected_containment)}")
    if incident.time_of(IncidentState.RESOLVED) is None:
        failures.append("incident not resolved after the fault ended")
    return failures


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds()
