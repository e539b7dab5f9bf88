"""Triage groups alerts into incidents: a cascade across dependent features, or alerts that
share a suspected change, are one incident; the incident carries its fingerprint and NIST
category and grades by the deployment's policy."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from fireline.clock import SimulatedClock
from fireline.config import parse_config
from fireline.domain.incident import IncidentType
from fireline.domain.severity import Severity
from fireline.domain.telemetry import Change, ChangeKind
from fireline.runtime import Fireline
from tests.conftest import T0


def minute(app: Fireline, clock: SimulatedClock, rng, rates: dict[str, float]) -> None:
    start = clock.now()
    rows = []
    for feature, rate in rates.items():
        for i, s in enumerate(np.sort(rng.uniform(0, 60, 120))):
            rows.append(
                (
                    len(rows) + 1,
                    {
                        "call_id": f"{feature}-{start.isoformat()}-{i}",
                        "time": (start + timedelta(seconds=float(s))).isoformat(),
                        "feature": feature,
                        "status": "error" if rng.random() < rate else "ok",
                    },
                )
            )
    app.ingest.ingest_rows(rows)
    clock.advance(60)
    app.tick()


def deployment(yaml: str = "") -> tuple[Fireline, SimulatedClock]:
    clock = SimulatedClock(T0)
    return Fireline.in_memory(clock, config=parse_config(yaml)), clock


def test_an_outage_cascading_to_a_dependent_feature_is_one_incident() -> None:
    app, clock = deployment(
        "triage:\n  features:\n    checkout-assistant: {depends_on: [search-answers]}\n"
    )
    rng = np.random.default_rng(3)
    for _ in range(70):
        minute(app, clock, rng, {"search-answers": 0.01, "checkout-assistant": 0.01})
    for _ in range(2):
        minute(app, clock, rng, {"search-answers": 0.6, "checkout-assistant": 0.01})
    for _ in range(3):
        minute(app, clock, rng, {"search-answers": 0.6, "checkout-assistant": 0.6})

    [incident] = app.list_incidents()
    with app.state.unit_of_work(read_only=True) as tx:
        features = {a.feature for a in tx.alerts(incident_id=incident.incident_id)}
        grouped = [e.message for e in tx.timeline(incident.incident_id or 0) if e.kind == "grouped"]
    assert incident.feature == "search-answers"
    assert features == {"search-answers", "checkout-assistant"}
    assert "one cascade" in grouped[0]
    app.close()


def test_alerts_after_a_deploy_to_every_feature_join_the_incident_it_suspects() -> None:
    app, clock = deployment()
    rng = np.random.default_rng(5)
    for _ in range(70):
        minute(app, clock, rng, {"a": 0.01, "b": 0.01})
    with app.state.unit_of_work() as tx:
        tx.add_changes([Change("d1", clock.now(), ChangeKind.MODEL, "gpt-x-2026-03", feature=None)])
    for _ in range(2):
        minute(app, clock, rng, {"a": 0.6, "b": 0.01})
    for _ in range(3):
        minute(app, clock, rng, {"a": 0.6, "b": 0.6})

    [incident] = app.list_incidents()
    with app.state.unit_of_work(read_only=True) as tx:
        grouped = [e.message for e in tx.timeline(incident.incident_id or 0) if e.kind == "grouped"]
    assert "gpt-x-2026-03" in grouped[0]
    app.close()


def test_independent_features_without_a_shared_change_are_separate_incidents() -> None:
    app, clock = deployment()
    rng = np.random.default_rng(9)
    for _ in range(70):
        minute(app, clock, rng, {"a": 0.01, "b": 0.01})
    for _ in range(3):
        minute(app, clock, rng, {"a": 0.6, "b": 0.6})

    incidents = app.list_incidents()

    assert sorted(i.feature for i in incidents) == ["a", "b"]
    assert all(i.fingerprint and i.nist == "reliability" for i in incidents)
    assert incidents[0].fingerprint != incidents[1].fingerprint
    app.close()


def test_a_critical_feature_gets_a_higher_severity_for_the_same_outage() -> None:
    app, clock = deployment("triage:\n  features:\n    triage-nurse: {criticality: critical}\n")
    rng = np.random.default_rng(11)
    for _ in range(70):
        minute(app, clock, rng, {"triage-nurse": 0.01, "music": 0.01})
    for _ in range(2):
        minute(app, clock, rng, {"triage-nurse": 0.12, "music": 0.12})

    by_feature = {i.feature: i for i in app.list_incidents()}

    assert by_feature["music"].severity is Severity.P2
    assert by_feature["triage-nurse"].severity is Severity.P0
    assert by_feature["music"].type is IncidentType.AVAILABILITY
    app.close()


def test_the_blast_radius_of_a_segment_is_its_share_of_the_features_calls() -> None:
    from fireline.detect.signals import SeriesKey, SignalReader
    from fireline.domain.telemetry import Call

    app, _ = deployment()
    app.ingest.ingest_calls(
        [
            Call(
                call_id=f"c{i}",
                time=T0 + timedelta(seconds=i),
                feature="bot",
                tenant="small" if i % 10 == 0 else "big",
            )
            for i in range(200)
        ]
    )
    reader = SignalReader(app.telemetry, app.config.detection)
    end = T0 + timedelta(minutes=5)

    small = reader.segment_share(SeriesKey("bot", "error_rate", "tenant=small"), T0, end)
    whole = reader.segment_share(SeriesKey("bot", "error_rate"), T0, end)

    assert (small, whole) == (0.1, 1.0)
    app.close()
