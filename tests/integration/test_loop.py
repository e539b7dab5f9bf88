"""One failure through the whole loop on real stores: ingest, detect, triage, contain, resolve."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from fireline.clock import SimulatedClock
from fireline.domain.guard import ContainmentLevel
from fireline.domain.incident import IncidentState, IncidentType
from fireline.domain.severity import Severity
from fireline.errors import IllegalTransition
from fireline.playbooks.engine import by_playbook
from fireline.runtime import Fireline
from fireline.settings import Settings
from tests.conftest import T0


@pytest.fixture
def deployment(tmp_path: Path, state_url: str) -> Iterator[tuple[Fireline, SimulatedClock]]:
    # Recovery resolves at once here; staged restoration has its own tests.
    (tmp_path / "fireline.yaml").write_text("containment: {restoration: {enabled: false}}\n")
    clock = SimulatedClock(T0)
    app = Fireline(Settings(data_dir=tmp_path, state_url=state_url), clock=clock, lateness_s=0)
    yield app, clock
    app.close()


def send_minute(
    app: Fireline,
    clock: SimulatedClock,
    rng: np.random.Generator,
    error_rate: float,
    calls: int = 120,
) -> None:
    start = clock.now()
    rows = [
        (
            i,
            {
                "call_id": f"{start.isoformat()}-{i}",
                "time": (start + timedelta(seconds=float(s))).isoformat(),
                "feature": "support-bot",
                "status": "error" if rng.random() < error_rate else "ok",
            },
        )
        for i, s in enumerate(np.sort(rng.uniform(0, 60, calls)), start=1)
    ]
    app.ingest.ingest_rows(rows)
    clock.advance(60)


def healthy_minutes(
    app: Fireline,
    clock: SimulatedClock,
    rng: np.random.Generator,
    minutes: int,
    *,
    tick_each: bool = False,
) -> None:
    """Minutes of normal traffic at 1% errors: a baseline for the detector."""
    for _ in range(minutes):
        send_minute(app, clock, rng, 0.01)
        if tick_each:
            app.tick()


def test_an_outage_opens_a_contained_incident_and_recovery_resolves_it(
    deployment: tuple[Fireline, SimulatedClock],
) -> None:
    app, clock = deployment
    rng = np.random.default_rng(7)
    for _ in range(75):
        send_minute(app, clock, rng, 0.01)
        assert app.tick().alerts == []
    assert app.list_incidents() == []

    onset = clock.now()
    send_minute(app, clock, rng, 0.7)
    result = app.tick()
    assert len(result.alerts) == 1
    [incident] = app.list_incidents()
    assert incident.type is IncidentType.AVAILABILITY
    assert incident.severity in (Severity.P0, Severity.P1)
    assert incident.state is IncidentState.CONTAINED
    assert incident.detected_at - onset <= timedelta(minutes=5)
    guard = app.guard("support-bot")
    assert guard.level is ContainmentLevel.FEATURE_DISABLED
    assert guard.incident_id == incident.incident_id

    for _ in range(10):
        send_minute(app, clock, rng, 0.7, calls=10)
        app.tick()
    assert app.list_incidents(open_only=True) != []
    for _ in range(15):
        # Probe calls only while the kill switch is on; all traffic once it is lifted.
        send_minute(app, clock, rng, 0.0, calls=120 if app.guard("support-bot").enabled else 10)
        app.tick()
    [resolved] = app.list_incidents()
    assert resolved.state is IncidentState.RESOLVED
    assert app.guard("support-bot").level is ContainmentLevel.NONE
    with app.state.unit_of_work() as tx:
        kinds = [
            e.kind
            for e in tx.timeline(resolved.incident_id or 0)
            if not by_playbook(e.actor)  # the playbook's steps are their own story
        ]
    assert kinds == ["detected", "triaged", "guard_set", "recovered", "guard_cleared", "resolved"]


def test_a_restarted_deployment_remembers_its_detectors(tmp_path: Path, state_url: str) -> None:
    clock = SimulatedClock(T0)
    rng = np.random.default_rng(3)
    first = Fireline(Settings(data_dir=tmp_path, state_url=state_url), clock=clock, lateness_s=0)
    for _ in range(75):
        send_minute(first, clock, rng, 0.01)
        first.tick()
    first.close()
    second = Fireline(Settings(data_dir=tmp_path, state_url=state_url), clock=clock, lateness_s=0)
    try:
        send_minute(second, clock, rng, 0.7)
        assert len(second.tick().alerts) == 1
    finally:
        second.close()


def test_a_late_tick_catches_up_on_every_bucket_it_missed(
    deployment: tuple[Fireline, SimulatedClock],
) -> None:
    app, clock = deployment
    rng = np.random.default_rng(11)
    healthy_minutes(app, clock, rng, 70)
    app.tick()
    for _ in range(3):
        send_minute(app, clock, rng, 0.8)
    for _ in range(30):
        send_minute(app, clock, rng, 0.01)
    result = app.tick()
    assert result.buckets == 33
    assert len(result.alerts) == 1
    assert result.alerts[0].fired_at <= T0 + timedelta(minutes=71)


def test_resolving_by_hand_clears_the_kill_switch_and_cannot_be_done_twice(
    deployment: tuple[Fireline, SimulatedClock],
) -> None:
    app, clock = deployment
    rng = np.random.default_rng(5)
    healthy_minutes(app, clock, rng, 70)
    send_minute(app, clock, rng, 0.9)
    app.tick()
    [incident] = app.list_incidents()
    assert incident.incident_id is not None
    assert not app.guard("support-bot").enabled
    app.resolve(incident.incident_id, actor="alice", reason="provider confirmed fixed")
    assert app.guard("support-bot").enabled
    with pytest.raises(IllegalTransition, match="already resolved"):
        app.resolve(incident.incident_id, actor="alice", reason="again")


def test_a_new_feature_whose_history_arrives_late_is_judged_against_that_history(
    deployment: tuple[Fireline, SimulatedClock],
) -> None:
    app, clock = deployment
    app.tick()  # detection has already evaluated the last hour, while it was empty
    rng = np.random.default_rng(13)
    past = clock.now()
    rows = []
    for minute in range(68):
        error_rate = 0.6 if minute >= 65 else 0.01
        for i in range(100):
            rows.append(
                (
                    len(rows) + 1,
                    {
                        "time": (past + timedelta(minutes=minute, seconds=i * 0.6)).isoformat(),
                        "feature": "late-bot",
                        "status": "error" if rng.random() < error_rate else "ok",
                    },
                )
            )
    clock.advance(68 * 60)
    app.ingest.ingest_rows(rows)
    result = app.tick()
    assert [a.feature for a in result.alerts] == ["late-bot"]
    assert not app.guard("late-bot").enabled


def test_calls_older_than_the_watermark_are_counted_as_late(
    deployment: tuple[Fireline, SimulatedClock],
) -> None:
    app, clock = deployment
    rng = np.random.default_rng(17)
    for _ in range(3):
        send_minute(app, clock, rng, 0.01)
    app.tick()
    old, fresh = clock.now() - timedelta(minutes=2), clock.now() + timedelta(seconds=1)
    result = app.ingest.ingest_rows(
        [
            (1, {"time": old.isoformat(), "feature": "support-bot"}),
            (2, {"time": fresh.isoformat(), "feature": "support-bot"}),
        ]
    )
    assert (result.accepted, result.duplicates, result.late) == (2, 0, 1)


def obeying_app_minute(
    app: Fireline,
    clock: SimulatedClock,
    rng: np.random.Generator,
    error_rate: float,
    per_minute: int,
) -> None:
    """A minute of an app that sends only its guard's probe share while disabled."""
    guard = app.guard("support-bot")
    calls = per_minute if guard.enabled else int(rng.binomial(per_minute, guard.probe_share))
    send_minute(app, clock, rng, error_rate, calls=calls)


def test_a_low_traffic_feature_recovers_from_probe_calls_alone(
    deployment: tuple[Fireline, SimulatedClock],
) -> None:
    app, clock = deployment
    rng = np.random.default_rng(21)
    for minute in range(80 + 10 + 150):
        error_rate = 0.6 if 80 <= minute < 90 else 0.01
        obeying_app_minute(app, clock, rng, error_rate, per_minute=40)
        app.tick()
    [incident] = app.list_incidents()
    assert incident.state is IncidentState.RESOLVED
    assert app.guard("support-bot").enabled


def test_severity_is_raised_and_containment_added_as_an_outage_worsens(
    deployment: tuple[Fireline, SimulatedClock],
) -> None:
    app, clock = deployment
    rng = np.random.default_rng(23)
    healthy_minutes(app, clock, rng, 70, tick_each=True)
    send_minute(app, clock, rng, 0.12)
    send_minute(app, clock, rng, 0.12)
    app.tick()
    [incident] = app.list_incidents()
    assert incident.severity is Severity.P2
    assert app.guard("support-bot").enabled
    assert app.guard("support-bot").level is ContainmentLevel.WARN  # monitor and warn
    for _ in range(6):  # the 5-minute window fills with failures
        send_minute(app, clock, rng, 1.0)
        app.tick()
    [worse] = app.list_incidents()
    assert worse.severity is Severity.P0
    assert worse.state is IncidentState.CONTAINED
    assert not app.guard("support-bot").enabled
    with app.state.unit_of_work() as tx:
        kinds = [
            e.kind
            for e in tx.timeline(worse.incident_id or 0)
            if not by_playbook(e.actor)  # the playbook's steps are their own story
        ]
    assert kinds[:4] == ["detected", "triaged", "guard_set", "severity_raised"]
    assert kinds.count("guard_set") == 2  # level 1 at P2, then the kill switch at P0


def test_two_outages_replayed_in_one_tick_are_two_incidents(
    deployment: tuple[Fireline, SimulatedClock],
) -> None:
    app, clock = deployment
    rng = np.random.default_rng(29)
    healthy_minutes(app, clock, rng, 70)
    app.tick()
    for error_rate in [0.7] * 5 + [0.01] * 25 + [0.7] * 5 + [0.01] * 25:
        send_minute(app, clock, rng, error_rate)
    app.tick()  # one catch-up over both outages
    incidents = app.list_incidents()
    assert len(incidents) == 2
    assert all(i.state is IncidentState.RESOLVED for i in incidents)
    with app.state.unit_of_work() as tx:
        alerts = tx.alerts()
    assert [a.incident_id for a in alerts] == [incidents[1].incident_id, incidents[0].incident_id]
    assert all(a.resolved_at is not None and a.resolved_at > a.fired_at for a in alerts)


def test_resolving_during_a_fault_that_goes_on_opens_a_new_incident(
    deployment: tuple[Fireline, SimulatedClock],
) -> None:
    app, clock = deployment
    rng = np.random.default_rng(31)
    healthy_minutes(app, clock, rng, 70)
    send_minute(app, clock, rng, 0.8)
    app.tick()
    [first] = app.list_incidents()
    app.resolve(first.incident_id or 0, actor="bob", reason="looks fine to me")
    for _ in range(6):
        send_minute(app, clock, rng, 0.8)
        app.tick()
    incidents = app.list_incidents()
    assert len(incidents) == 2
    assert incidents[0].is_open
    assert not app.guard("support-bot").enabled
