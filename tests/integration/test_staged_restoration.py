"""Staged restoration in the loop: after recovery the guard gives traffic back 5 % → 25 % →
50 % → 100 % by users, judged against the traffic before the incident; a worse canary is rolled
back and retried later."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from fireline.clock import SimulatedClock
from fireline.domain.guard import ContainmentLevel
from fireline.domain.incident import IncidentState
from fireline.runtime import Fireline
from fireline.settings import Settings
from tests.conftest import T0

CONFIG = """
containment:
  restoration:
    stages: [0.05, 0.25, 0.5, 1.0]
    min_stage_s: 300
    retry_after_s: 600
    judge: {min_calls: 60, min_samples: 40}
"""
USERS = [f"user-{n}" for n in range(2000)]


@pytest.fixture
def deployment(tmp_path: Path, state_url: str) -> Iterator[tuple[Fireline, SimulatedClock]]:
    (tmp_path / "fireline.yaml").write_text(CONFIG)
    clock = SimulatedClock(T0)
    app = Fireline(Settings(data_dir=tmp_path, state_url=state_url), clock=clock, lateness_s=0)
    yield app, clock
    app.close()


def serve_minute(
    app: Fireline,
    clock: SimulatedClock,
    rng: np.random.Generator,
    *,
    error_rate: float = 0.0,
    restored_error_rate: float | None = None,
    score: float | None = None,
    restored_score: float | None = None,
    calls: int = 300,
) -> None:
    """A minute of requests from random users to an app that obeys its guard: a user gets the
    model when the guard lets them (normal service, restored, or a probe), else the fallback
    (not called under a kill switch; under fallback mode a healthy answer marked
    `fallback`). With a `score`, an eval scores every answer."""
    guard = app.guard("support-bot")
    start = clock.now()
    rows = []
    for i, at in enumerate(np.sort(rng.uniform(0, 60, calls)), start=1):
        user = USERS[int(rng.integers(len(USERS)))]
        level = guard.level_for({}, key=user)
        restored = guard.level > ContainmentLevel.NONE and level == ContainmentLevel.NONE
        if level >= ContainmentLevel.FEATURE_DISABLED and rng.random() >= guard.probe_share:
            continue  # the fallback answers; the model is not called
        fallback = level == ContainmentLevel.FALLBACK
        p = restored_error_rate if restored and restored_error_rate is not None else error_rate
        row: dict[str, object] = {
            "call_id": f"{start.isoformat()}-{i}",
            "time": (start + timedelta(seconds=float(at))).isoformat(),
            "feature": "support-bot",
            "user": user,
            "latency_ms": float(rng.lognormal(np.log(800), 0.3)),
            "status": "error" if not fallback and rng.random() < p else "ok",
            "attributes": {"fallback": True}
            if fallback
            else {"restored": True}
            if restored
            else {},
        }
        if score is not None:
            mean = restored_score if restored and restored_score is not None else score
            drawn = rng.normal(0.85 if fallback else mean, 0.08)
            row["eval_scores"] = {"quality": float(np.clip(drawn, 0, 1))}
        rows.append((i, row))
    app.ingest.ingest_rows(rows)
    clock.advance(60)


def outage(app: Fireline, clock: SimulatedClock, rng: np.random.Generator) -> int:
    """An hour of healthy traffic, then an outage the kill switch contains; the incident id."""
    for _ in range(70):
        serve_minute(app, clock, rng, error_rate=0.01)
        app.tick()
    for _ in range(3):
        serve_minute(app, clock, rng, error_rate=0.7)
        app.tick()
    [incident] = app.list_incidents()
    assert app.guard("support-bot").level is ContainmentLevel.FEATURE_DISABLED
    assert incident.incident_id is not None
    return incident.incident_id


def kinds(app: Fireline, incident_id: int) -> list[str]:
    with app.state.unit_of_work() as tx:
        return [e.kind for e in tx.timeline(incident_id)]


def test_a_recovered_feature_is_given_back_in_stages_and_then_resolved(
    deployment: tuple[Fireline, SimulatedClock],
) -> None:
    app, clock = deployment
    rng = np.random.default_rng(11)
    incident_id = outage(app, clock, rng)

    shares: list[float] = []
    for _ in range(90):
        serve_minute(app, clock, rng, error_rate=0.01)
        app.tick()
        guard = app.guard("support-bot")
        if guard.restore_share and guard.restore_share not in shares:
            shares.append(guard.restore_share)
        if not app.list_incidents(open_only=True):
            break

    [incident] = app.list_incidents()
    assert incident.state is IncidentState.RESOLVED
    assert shares == [0.05, 0.25, 0.5]
    assert app.guard("support-bot").level is ContainmentLevel.NONE
    timeline = kinds(app, incident_id)
    assert timeline.count("restoration_started") == 1
    assert timeline.count("restoration_promoted") == 3
    assert "restoration_rolled_back" not in timeline
    assert timeline[-2:] == ["guard_cleared", "resolved"]
    with app.state.unit_of_work() as tx:
        promoted = [e for e in tx.timeline(incident_id) if e.kind == "restoration_promoted"]
    tests = promoted[0].data["tests"]
    assert isinstance(tests, list)
    assert {t["signal"] for t in tests} == {"error_rate", "latency_ms"}
    assert all(t["canary_n"] >= 40 for t in tests)


def test_a_worse_canary_is_rolled_back_then_retried_once_the_cause_is_gone(
    deployment: tuple[Fireline, SimulatedClock],
) -> None:
    app, clock = deployment
    rng = np.random.default_rng(5)
    incident_id = outage(app, clock, rng)

    # Probes are healthy (the detector recovers) but restored users still fail often.
    for _ in range(40):
        serve_minute(app, clock, rng, error_rate=0.01, restored_error_rate=0.15)
        app.tick()
        if "restoration_rolled_back" in kinds(app, incident_id):
            break
    assert "restoration_rolled_back" in kinds(app, incident_id)
    [incident] = app.list_incidents()
    assert incident.state is IncidentState.CONTAINED
    guard = app.guard("support-bot")
    assert guard.level is ContainmentLevel.FEATURE_DISABLED
    assert guard.restore_share == 0.0

    # Fixed: after the retry wait a second attempt restores everyone.
    for _ in range(120):
        serve_minute(app, clock, rng, error_rate=0.01)
        app.tick()
        if not app.list_incidents(open_only=True):
            break
    [incident] = app.list_incidents()
    assert incident.state is IncidentState.RESOLVED
    timeline = kinds(app, incident_id)
    assert timeline.count("restoration_started") == 2
    with app.state.unit_of_work() as tx:
        started = [e for e in tx.timeline(incident_id) if e.kind == "restoration_started"]
    assert [e.data["attempt"] for e in started] == [1, 2]


def test_a_quiet_feature_is_promoted_on_bake_time_when_the_judge_lacks_data(
    tmp_path: Path,
) -> None:
    state_url = f"sqlite:///{tmp_path / 'state.db'}"  # the store is not what this tests
    (tmp_path / "fireline.yaml").write_text(
        CONFIG.replace("retry_after_s: 600", "retry_after_s: 600\n    max_stage_s: 600")
    )
    clock = SimulatedClock(T0)
    app = Fireline(Settings(data_dir=tmp_path, state_url=state_url), clock=clock, lateness_s=0)
    rng = np.random.default_rng(3)
    try:
        incident_id = outage(app, clock, rng)
        for _ in range(240):
            serve_minute(app, clock, rng, error_rate=0.01, calls=10)
            app.tick()
            if not app.list_incidents(open_only=True):
                break
        [incident] = app.list_incidents()
        assert incident.state is IncidentState.RESOLVED
        with app.state.unit_of_work() as tx:
            promoted = [e for e in tx.timeline(incident_id) if e.kind == "restoration_promoted"]
        assert len(promoted) == 3
        assert "too little traffic to judge" in promoted[0].message
    finally:
        app.close()


def test_all_traffic_waits_for_the_incidents_regression_evals_when_required(
    tmp_path: Path,
) -> None:
    from fireline.respond.restoring import record_evals_run

    (tmp_path / "fireline.yaml").write_text(
        CONFIG.replace("retry_after_s: 600", "retry_after_s: 600\n    require_evals: true")
    )
    clock = SimulatedClock(T0)
    app = Fireline(
        Settings(data_dir=tmp_path, state_url=f"sqlite:///{tmp_path / 'state.db'}"),
        clock=clock,
        lateness_s=0,
    )
    rng = np.random.default_rng(11)
    try:
        incident_id = outage(app, clock, rng)
        for _ in range(90):
            serve_minute(app, clock, rng, error_rate=0.01)
            app.tick()
            if "restoration_waiting" in kinds(app, incident_id):
                break
        assert app.guard("support-bot").restore_share == 0.5
        with app.acting() as tx:
            failed = record_evals_run(
                tx, incident_id, pass_rate=0.8, cases=25, min_pass_rate=1.0,
                target="http://127.0.0.1:9/v1", actor="ci", at=clock.now(),
            )  # fmt: skip
        serve_minute(app, clock, rng, error_rate=0.01)
        app.tick()
        assert not failed
        assert app.list_incidents(open_only=True) != []

        with app.acting() as tx:
            passed = record_evals_run(
                tx, incident_id, pass_rate=1.0, cases=25, min_pass_rate=1.0,
                target="http://127.0.0.1:9/v1", actor="ci", at=clock.now(),
            )  # fmt: skip
        serve_minute(app, clock, rng, error_rate=0.01)
        app.tick()
        assert passed
        [incident] = app.list_incidents()
        assert incident.state is IncidentState.RESOLVED
        assert kinds(app, incident_id).count("restoration_waiting") == 1
    finally:
        app.close()


def quality_drop(app: Fireline, clock: SimulatedClock, rng: np.random.Generator) -> int:
    """An hour of good answers, then worse ones until a guard takes users off the model."""
    for _ in range(70):
        serve_minute(app, clock, rng, score=0.85)
        app.tick()
    for _ in range(30):
        serve_minute(app, clock, rng, score=0.6)
        app.tick()
        if app.guard("support-bot").level >= ContainmentLevel.HUMAN_REVIEW:
            break
    [incident] = app.list_incidents()
    assert app.guard("support-bot").level >= ContainmentLevel.HUMAN_REVIEW
    assert incident.incident_id is not None
    return incident.incident_id


def test_a_quality_incident_is_judged_on_its_eval_and_stays_open_while_the_model_is_worse(
    deployment: tuple[Fireline, SimulatedClock],
) -> None:
    app, clock = deployment
    rng = np.random.default_rng(7)
    incident_id = quality_drop(app, clock, rng)

    # The fallback's answers are good (the detector recovers); the model's are not: no
    # error, no slowness, only the eval says so.
    for _ in range(90):
        serve_minute(app, clock, rng, score=0.85, restored_score=0.7)
        app.tick()
    timeline = kinds(app, incident_id)
    assert "restoration_started" in timeline
    assert "restoration_rolled_back" in timeline
    assert "resolved" not in timeline
    [incident] = app.list_incidents()
    assert incident.is_open

    # The model is fixed: the next attempt is judged on the eval too, and resolves.
    for _ in range(180):
        serve_minute(app, clock, rng, score=0.85)
        app.tick()
        if not app.list_incidents(open_only=True):
            break
    [incident] = app.list_incidents()
    assert incident.state is IncidentState.RESOLVED
    with app.state.unit_of_work() as tx:
        promoted = [e for e in tx.timeline(incident_id) if e.kind == "restoration_promoted"]
    judged = {t["signal"]: t for t in promoted[-1].data["tests"]}
    assert judged["eval.quality"]["proven"] is True
    assert judged["eval.quality"]["margin"] > 0.05
