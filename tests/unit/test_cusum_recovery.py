"""CUSUM alarms clear on the evidence that reaches them: under a kill switch only a trickle of
probe calls arrives, and the recovery stretch grows until it holds enough of them."""

from datetime import UTC, datetime, timedelta

from fireline.detect.base import rate_window
from fireline.detect.bernoulli import BernoulliCusum

T0 = datetime(2026, 1, 5, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def feed(detector: BernoulliCusum, start: int, minutes: int, calls: int, hits: int) -> int:
    for i in range(start, start + minutes):
        detector.update(rate_window(T0 + i * MINUTE, T0 + (i + 1) * MINUTE, calls, hits))
    return start + minutes


def alarmed_then_switched_off() -> tuple[BernoulliCusum, int]:
    detector = BernoulliCusum(seasonal=False)
    at = feed(detector, 0, 180, 60, 1)  # three hours at about 1.7 %
    at = feed(detector, at, 5, 60, 12)  # 20 %: alarm
    assert detector.drift_detected
    return detector, at


def test_a_trickle_of_probe_calls_clears_the_alarm_within_two_hours() -> None:
    detector, at = alarmed_then_switched_off()
    cleared_after = None
    for minute in range(4 * 60):
        calls = 1 if minute % 3 == 0 else 0  # twenty probe calls an hour, none failing
        at = feed(detector, at, 1, calls, 0)
        if not detector.drift_detected:
            cleared_after = minute + 1
            break

    assert cleared_after is not None, "still alarmed after four hours of good probes"
    # min_n = 30 probe calls take 90 minutes to arrive.
    assert 85 <= cleared_after <= 120


def test_failing_probe_calls_keep_the_alarm() -> None:
    detector, at = alarmed_then_switched_off()
    for minute in range(4 * 60):
        at = feed(detector, at, 1, 1 if minute % 3 == 0 else 0, 1 if minute % 6 == 0 else 0)

    assert detector.drift_detected
