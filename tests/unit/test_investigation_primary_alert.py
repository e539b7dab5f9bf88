"""Investigation follows the alert whose signal names the bad calls most specifically."""

from datetime import UTC, datetime, timedelta

from fireline.domain.alert import Alert
from fireline.domain.incident import IncidentType
from fireline.investigate.service import primary_alert

T0 = datetime(2026, 3, 2, 9, 2, tzinfo=UTC)


def alert(signal: str, minutes: float = 0) -> Alert:
    at = T0 + timedelta(minutes=minutes)
    return Alert(
        detector="d",
        feature="bot",
        signal=signal,
        incident_type=IncidentType.QUALITY,
        fired_at=at,
        window_start=at - timedelta(minutes=5),
        window_end=at,
        baseline_value=0.01,
        current_value=0.1,
        p_value=1e-9,
    )


def test_a_rate_seen_with_a_drift_test_is_followed_rather_than_the_drift() -> None:
    found = primary_alert([alert("finish_reasons"), alert("output_tokens"), alert("refusal_rate")])

    assert found is not None
    assert found.signal == "refusal_rate"


def test_a_later_onset_does_not_take_over_the_first() -> None:
    found = primary_alert([alert("finish_reasons"), alert("refusal_rate", minutes=30)])

    assert found is not None
    assert found.signal == "finish_reasons"


def test_no_alert_gives_nothing_to_follow() -> None:
    assert primary_alert([]) is None
