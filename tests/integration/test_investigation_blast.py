"""The blast radius of an incident whose fault harms calls in several ways: every failure the
incident shows counts (the alerted ones and those that rose with them), calls answered by the
fallback route are outside it, and it ends when the harm ended, not when the incident did."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pytest

from fireline.clock import SimulatedClock
from fireline.config import parse_config
from fireline.domain.incident import IncidentState
from fireline.domain.telemetry import Feedback, FeedbackKind
from fireline.investigate import Investigation, investigator_for
from fireline.runtime import Fireline
from tests.conftest import T0

FEATURE = "care-bot"
FAULT_START = T0 + timedelta(hours=2)
FAULT_END = FAULT_START + timedelta(minutes=40)
#: From this moment of the fault most requests go to the fallback route.
FALLBACK_FROM = FAULT_START + timedelta(minutes=10)
CONFIG = "containment: {restoration: {enabled: false}}\n"


@dataclass
class Drill:
    """The calls sent, and the ground truth: calls the fault harmed and fallback calls."""

    harmed: set[str] = field(default_factory=set)
    by_fallback: set[str] = field(default_factory=set)
    #: When the incident was resolved (or the drill's end while it is open).
    incident_end: datetime = T0


def minute(app: Fireline, clock: SimulatedClock, rng: np.random.Generator, drill: Drill) -> None:
    start = clock.now()
    faulty = FAULT_START <= start < FAULT_END
    rows, feedback = [], []
    for i, at in enumerate(np.sort(rng.uniform(0, 60, 120)), start=1):
        call_id = f"{start:%H%M}-{i}"
        fallback = faulty and start >= FALLBACK_FROM and rng.random() < 0.8
        harmful = faulty and not fallback
        error = rng.random() < (0.12 if harmful else 0.005)
        refused = not error and rng.random() < (0.25 if harmful else 0.01)
        # Users dislike a harmful period's answers, refused or not (their feedback lags).
        disliked = rng.random() < (0.15 if harmful else 0.02)
        if harmful and (error or refused or disliked):
            drill.harmed.add(call_id)
        if fallback:
            drill.by_fallback.add(call_id)
        time = start + timedelta(seconds=float(at))
        rows.append(
            (
                i,
                {
                    "call_id": call_id,
                    "time": time.isoformat(),
                    "feature": FEATURE,
                    "tenant": "clinic-a" if i % 2 else "clinic-b",
                    "model": "small-model" if fallback else "big-model",
                    "status": "error" if error else "ok",
                    "error_type": "server_error" if error else None,
                    "finish_reason": "refusal" if refused else (None if error else "stop"),
                    "output_tokens": None if error else (8 if refused else 240),
                    "attributes": {"fallback": True} if fallback else {},
                },
            )
        )
        if disliked:
            kind = FeedbackKind.THUMBS_DOWN
            feedback.append(Feedback(f"fb-{call_id}", call_id, time + timedelta(seconds=5), kind))
    app.ingest.ingest_rows(rows)
    app.telemetry.insert_new_feedback(feedback)
    clock.advance(60)
    app.tick()


@pytest.fixture(scope="module")
def drill() -> tuple[Drill, Investigation, set[str]]:
    clock = SimulatedClock(T0)
    app = Fireline.in_memory(clock, config=parse_config(CONFIG))
    rng = np.random.default_rng(11)
    found = Drill()
    try:
        while clock.now() < FAULT_END + timedelta(hours=1):
            minute(app, clock, rng, found)
        [incident] = [i for i in app.list_incidents() if i.detected_at >= FAULT_START]
        assert incident.incident_id is not None
        investigator = investigator_for(app)
        with app.state.unit_of_work(read_only=True) as tx:
            report = investigator.investigate(tx, incident.incident_id, clock.now())
            rows = investigator.affected(tx, incident.incident_id, clock.now())
            listed = {str(r["call_id"]) for r in rows}
        found.incident_end = incident.time_of(IncidentState.RESOLVED) or clock.now()
    finally:
        app.close()
    return found, report, listed


def test_every_way_the_fault_harmed_calls_is_in_the_blast_radius(
    drill: tuple[Drill, Investigation, set[str]],
) -> None:
    truth, _, listed = drill
    hits = len(listed & truth.harmed)

    assert hits >= 0.9 * len(truth.harmed), "recall: errors, refusals and thumbs-down alike"
    assert hits >= 0.9 * len(listed), "precision"


def test_calls_answered_by_the_fallback_route_are_outside_the_blast_radius(
    drill: tuple[Drill, Investigation, set[str]],
) -> None:
    truth, _, listed = drill

    assert truth.by_fallback
    assert not listed & truth.by_fallback


def test_the_blast_radius_ends_when_the_harm_ended_though_the_incident_lasted_longer(
    drill: tuple[Drill, Investigation, set[str]],
) -> None:
    truth, report, _ = drill

    assert truth.incident_end >= FAULT_END + timedelta(minutes=5)
    assert report.blast.last is not None
    assert report.blast.until <= FAULT_END + timedelta(minutes=2)
    assert FAULT_END - timedelta(minutes=2) <= report.blast.last <= FAULT_END + timedelta(minutes=2)


def test_when_an_eval_falls_the_calls_that_failed_it_are_the_affected_ones() -> None:
    clock = SimulatedClock(T0)
    app = Fireline.in_memory(clock, config=parse_config(CONFIG))
    rng = np.random.default_rng(5)
    failing: set[str] = set()
    try:
        for minute in range(200):
            failing |= ingest_scored(app, clock, rng, 0.58 if minute >= 150 else 0.88)
            app.tick()
        [incident] = app.list_incidents()
        assert incident.incident_id is not None
        report, listed = investigated(app, incident.incident_id)
    finally:
        app.close()

    assert listed <= failing
    assert len(listed) >= 0.9 * len(failing)
    assert any("scoring below 0.5" in note for note in report.notes)


def investigated(app: Fireline, incident_id: int) -> tuple[Investigation, set[str]]:
    """The incident's investigation now, and the ids of the calls it lists as affected."""
    investigator = investigator_for(app)
    now = app.clock.now()
    with app.state.unit_of_work(read_only=True) as tx:
        report = investigator.investigate(tx, incident_id, now)
        listed = {str(r["call_id"]) for r in investigator.affected(tx, incident_id, now)}
    return report, listed


def ingest_scored(
    app: Fireline, clock: SimulatedClock, rng: np.random.Generator, mean: float, **kind: object
) -> set[str]:
    """A minute of 60 calls scored around `mean` (with `kind`'s attributes: fallback...);
    the ids of those scoring below the pass mark."""
    start, rows, failing = clock.now(), [], set()
    for i, at in enumerate(np.sort(rng.uniform(0, 60, 60)), start=1):
        call_id = f"{start:%H%M}-{i}"
        score = float(np.clip(rng.normal(mean, 0.08), 0, 1))
        if score < 0.5:
            failing.add(call_id)
        time = (start + timedelta(seconds=float(at))).isoformat()
        rows.append((i, {"call_id": call_id, "time": time, "feature": FEATURE,
                         "eval_scores": {"quality": score}, "attributes": dict(kind)}))  # fmt: skip
    app.ingest.ingest_rows(rows)
    clock.advance(60)
    return failing


@pytest.mark.parametrize("model_still_fails", [True, False])
def test_harm_goes_on_past_the_alerts_recovery_while_the_models_calls_still_fail(
    model_still_fails: bool,
) -> None:
    clock = SimulatedClock(T0)
    app = Fireline.in_memory(clock, config=parse_config(CONFIG))
    rng = np.random.default_rng(6)
    try:
        for minute in range(200):
            ingest_scored(app, clock, rng, 0.58 if minute >= 150 else 0.88)
            app.tick()
        [incident] = app.list_incidents()
        assert incident.incident_id is not None
        # The alerts recover (the fallback's answers are good), and no tick runs after: no
        # detector sees what follows. A few calls still reach the model.
        recovered = clock.now()
        with app.state.unit_of_work() as tx:
            for alert in tx.alerts(incident_id=incident.incident_id, open_only=True):
                assert alert.alert_id is not None
                tx.resolve_alert(alert.alert_id, recovered)
        later: set[str] = set()
        for _ in range(60):
            ingest_scored(app, clock, rng, 0.88, fallback=True)
            later |= ingest_scored(app, clock, rng, 0.58 if model_still_fails else 0.88)
        report, listed = investigated(app, incident.incident_id)
    finally:
        app.close()

    if model_still_fails:
        assert len(later) > 100
        assert later <= listed
        assert report.blast.until >= clock.now() - timedelta(minutes=2)
    else:
        assert report.blast.until <= recovered + timedelta(minutes=1)
