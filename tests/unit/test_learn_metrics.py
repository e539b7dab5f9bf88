"""Response metrics on hand-made incidents with known times: durations, buckets, recurrence."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from fireline.domain.incident import Incident, IncidentState, IncidentType
from fireline.domain.severity import Severity
from fireline.learn.metrics import (
    IncidentFacts,
    Metric,
    Period,
    bucket_of,
    bucket_start,
    durations,
    onset_of,
    recurrences,
    report,
)

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def incident(
    incident_id: int,
    at: datetime,
    *,
    fingerprint: str | None = None,
    severity: Severity = Severity.P2,
    type: IncidentType = IncidentType.QUALITY,
    ack: timedelta | None = None,
    contained: timedelta | None = None,
    resolved: timedelta | None = None,
) -> Incident:
    times = {IncidentState.DETECTED: at}
    if contained is not None:
        times[IncidentState.CONTAINED] = at + contained
    if resolved is not None:
        times[IncidentState.RESOLVED] = at + resolved
    return replace(
        Incident.detected(feature="bot", type=type, severity=severity, title="t", at=at),
        incident_id=incident_id,
        fingerprint=fingerprint,
        state_times=times,
        acknowledged_at=None if ack is None else at + ack,
    )


def test_each_metric_is_measured_from_detection_and_mttd_from_onset() -> None:
    found = durations(
        IncidentFacts(
            incident(1, T, ack=5 * MINUTE, contained=20 * MINUTE, resolved=90 * MINUTE),
            onset=T - 12 * MINUTE,
        )
    )
    assert found == {
        Metric.MTTD: 720.0,
        Metric.MTTA: 300.0,
        Metric.MTTC: 1200.0,
        Metric.MTTR: 5400.0,
    }


def test_an_incident_that_never_reached_a_step_has_no_metric_for_it() -> None:
    assert durations(IncidentFacts(incident(1, T))) == {}


def test_the_onset_is_the_evidence_onset_when_given_and_the_window_start_otherwise() -> None:
    start = T - 30 * MINUTE
    assert onset_of({"onset": (T - 40 * MINUTE).isoformat()}, start) == T - 40 * MINUTE
    assert onset_of({"onset": "2026-03-02T08:00:00"}, start) == T - 60 * MINUTE  # naive: UTC
    assert onset_of({}, start) == start
    assert onset_of({"onset": 17}, start) == start


def test_months_and_quarters_are_calendar_buckets_in_utc() -> None:
    late_march = datetime(2026, 3, 31, 23, 59, tzinfo=UTC)
    april = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)
    assert (bucket_of(late_march, Period.MONTH), bucket_of(april, Period.MONTH)) == (
        "2026-03",
        "2026-04",
    )
    assert (bucket_of(late_march, Period.QUARTER), bucket_of(april, Period.QUARTER)) == (
        "2026-Q1",
        "2026-Q2",
    )
    east = datetime(2026, 4, 1, 1, 0, tzinfo=UTC).astimezone(datetime.now(UTC).astimezone().tzinfo)
    assert bucket_of(east, Period.MONTH) == "2026-04"
    assert bucket_start(datetime(2026, 11, 15, tzinfo=UTC), Period.QUARTER) == datetime(
        2026, 10, 1, tzinfo=UTC
    )


def test_a_fingerprint_seen_within_ninety_days_before_is_a_recurrence() -> None:
    found = recurrences(
        [
            incident(1, T, fingerprint="a"),
            incident(2, T + timedelta(days=90), fingerprint="a"),  # exactly 90 days: recurs
            incident(3, T + timedelta(days=181), fingerprint="a"),  # 91 days after 2
            incident(4, T + timedelta(days=1), fingerprint="b"),
            incident(5, T + timedelta(days=2)),
            incident(6, T + timedelta(days=3)),
        ]
    )
    assert found == {2}


def test_the_report_gives_medians_means_and_counts_per_month() -> None:
    facts = [
        IncidentFacts(incident(1, T, resolved=60 * MINUTE), onset=T - 10 * MINUTE),
        IncidentFacts(incident(2, T + timedelta(days=1), resolved=120 * MINUTE)),
        IncidentFacts(
            incident(
                3,
                T + timedelta(days=2),
                resolved=360 * MINUTE,
                severity=Severity.P1,
                type=IncidentType.SAFETY,
            )
        ),
        IncidentFacts(incident(4, datetime(2026, 4, 3, tzinfo=UTC), ack=4 * MINUTE)),
    ]
    result = report(facts, Period.MONTH)
    march, april = result.buckets
    assert (march.label, march.incidents, april.label, april.incidents) == (
        "2026-03",
        3,
        "2026-04",
        1,
    )
    mttr = march.metrics[Metric.MTTR]
    assert (mttr.count, mttr.median_s, mttr.mean_s) == (3, 7200.0, 10800.0)
    assert march.metrics[Metric.MTTD].count == 1
    assert march.metrics[Metric.MTTA].median_s is None
    assert dict(march.by_severity) == {"P1": 1, "P2": 2}
    assert dict(march.by_type) == {"quality": 2, "safety": 1}
    assert result.total.incidents == 4
    assert result.to_json()["buckets"][1]["metrics"]["mtta"] == {
        "count": 1,
        "median_s": 240.0,
        "mean_s": 240.0,
    }


def test_incidents_before_since_count_only_towards_recurrence() -> None:
    facts = [
        IncidentFacts(incident(1, T, fingerprint="x")),
        IncidentFacts(incident(2, T + timedelta(days=40), fingerprint="x")),
    ]
    result = report(facts, Period.QUARTER, since=T + timedelta(days=30))
    assert [b.label for b in result.buckets] == ["2026-Q2"]
    assert (result.total.incidents, result.total.recurrences) == (1, 1)
