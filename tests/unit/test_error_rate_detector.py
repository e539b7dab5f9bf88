"""ErrorRateDetector: a recent window against a frozen-while-alarmed trailing baseline.

The streams here are deterministic (fixed calls and errors per bucket) so that every expected
alarm and recovery can be worked out by hand from the detector's documented rules. With the
defaults, the detector keeps the latest max(window_s, recovery_s) = 10 one-minute buckets as
"recent" and the 60 buckets before them as the baseline.
"""

from datetime import UTC, datetime, timedelta

import pytest
from scipy.stats import hypergeom

from fireline.detect.base import rate_window
from fireline.detect.error_rate import ErrorRateDetector

T0 = datetime(2026, 1, 5, tzinfo=UTC)
GOOD = (200, 2)  # 1% errors
OUTAGE = (200, 100)  # 50% errors
RECENT_BUCKETS = 10
BASELINE_BUCKETS = 60
WARM = RECENT_BUCKETS + BASELINE_BUCKETS  # buckets until recent and baseline are both full


class Stream:
    """Feeds one detector consecutive buckets and remembers whether it was alarmed after each."""

    def __init__(self, detector: ErrorRateDetector) -> None:
        self.detector = detector
        self.step = timedelta(seconds=detector.bucket_s)
        self.next_start = T0

    def feed(self, bucket: tuple[int, int], times: int = 1) -> list[bool]:
        calls, errors = bucket
        alarms = []
        for _ in range(times):
            start, self.next_start = self.next_start, self.next_start + self.step
            self.detector.update(rate_window(start, self.next_start, calls, errors))
            alarms.append(self.detector.drift_detected)
        return alarms


def warmed_up(**params) -> Stream:
    stream = Stream(ErrorRateDetector(**params))
    assert not any(stream.feed(GOOD, WARM + 30))
    return stream


@pytest.mark.parametrize(
    ("budget", "bucket_s"), [(1.0, 60), (2.0, 60), (0.5, 60), (1.0, 300), (10.0, 600)]
)
def test_alpha_spreads_the_false_alarm_budget_over_the_tests_of_30_days(budget, bucket_s):
    detector = ErrorRateDetector(
        bucket_s=bucket_s,
        window_s=bucket_s * 5,
        baseline_s=bucket_s * 60,
        recovery_s=bucket_s * 10,
        false_alarms_per_30_days=budget,
    )
    tests_in_30_days = 30 * 86_400 / bucket_s

    assert detector.alpha == pytest.approx(budget / tests_in_30_days)
    assert detector.alpha == pytest.approx(budget * bucket_s / (30 * 86_400))


def test_a_steady_error_rate_never_alarms():
    stream = Stream(ErrorRateDetector())

    assert not any(stream.feed(GOOD, 6 * 60))


def test_an_outage_alarms_at_its_first_bucket_once_there_is_a_baseline():
    stream = warmed_up()

    assert stream.feed(OUTAGE) == [True]


def test_no_alarm_is_raised_before_the_baseline_holds_min_baseline_calls():
    # 100 calls a bucket and a 1000-call minimum: the baseline is long enough at 10 buckets.
    stream = Stream(ErrorRateDetector(min_baseline_calls=1_000))
    assert not any(stream.feed((100, 1), RECENT_BUCKETS + 8))  # baseline: 8 buckets, 800 calls

    # Each bucket moves the oldest recent (good) bucket into the baseline.
    assert stream.feed((100, 50)) == [False]  # baseline: 900 calls, too few to judge by
    assert stream.feed((100, 50)) == [True]  # baseline: 1000 calls


def test_a_feature_that_fails_from_its_first_call_has_no_baseline_to_alarm_against():
    stream = Stream(ErrorRateDetector())

    assert not any(stream.feed(OUTAGE, RECENT_BUCKETS))


def test_a_quiet_feature_does_not_alarm_even_when_every_call_fails():
    # 5 calls a bucket: the 5-bucket window holds 25 calls, below min_calls (30).
    stream = Stream(ErrorRateDetector())
    assert not any(stream.feed((5, 0), WARM))

    assert not any(stream.feed((5, 5), 60))


def test_a_feature_just_busy_enough_does_alarm_when_every_call_fails():
    # The control for the quiet feature: 6 calls a bucket fill the window with min_calls (30).
    stream = Stream(ErrorRateDetector())
    assert not any(stream.feed((6, 0), WARM))

    assert any(stream.feed((6, 6), 5))


def test_a_significant_but_trivial_rise_on_huge_traffic_stays_quiet():
    # 100k calls a bucket make 1% -> 1.4% overwhelmingly significant, but below min_ratio 1.5.
    stream = Stream(ErrorRateDetector())
    assert not any(stream.feed((100_000, 1_000), WARM))
    window, baseline = (5 * 100_000, 5 * 1_400), (60 * 100_000, 60 * 1_000)
    p_value = hypergeom.sf(
        window[1] - 1, window[0] + baseline[0], window[1] + baseline[1], window[0]
    )
    assert p_value < stream.detector.alpha

    assert not any(stream.feed((100_000, 1_400), 30))


def test_a_rise_above_min_ratio_on_huge_traffic_alarms():
    # The control: 1% -> 1.6% is above min_ratio, and alarms once the window is all at 1.6%.
    stream = Stream(ErrorRateDetector())
    assert not any(stream.feed((100_000, 1_000), WARM))

    assert stream.feed((100_000, 1_600), 5)[-1]


def test_a_long_outage_never_becomes_the_baseline():
    stream = warmed_up()

    during = stream.feed(OUTAGE, 3 * 60)  # three hours, three times the baseline period

    assert all(during)
    assert stream.detector.evidence["baseline_error_rate"] == pytest.approx(0.01)


def test_the_alarm_clears_after_a_long_outage_ends_and_measures_against_the_old_baseline():
    stream = warmed_up()
    stream.feed(OUTAGE, 3 * 60)

    after = stream.feed(GOOD, 30)

    assert not after[-1]
    recovery = stream.detector.evidence
    assert recovery["baseline_error_rate"] == pytest.approx(0.01)
    assert recovery["error_rate"] == pytest.approx(0.01)
    assert "recovery_seconds" in recovery


def test_after_recovering_from_a_long_outage_the_next_outage_alarms_at_once():
    stream = warmed_up()
    stream.feed(OUTAGE, 3 * 60)
    stream.feed(GOOD, 2 * 60)

    assert stream.feed(OUTAGE) == [True]


@pytest.mark.parametrize("recovery_s", [600, 1_200])
def test_recovery_takes_recovery_s_of_good_buckets(recovery_s):
    # Until the recovery period is all good buckets it still holds a 100-error outage bucket,
    # far above the tolerated 1.5 * 1% + one error; once it is all good it matches the
    # baseline exactly (p ~ 0.5 > recovery_p), so the alarm clears on that very bucket.
    stream = warmed_up(recovery_s=recovery_s)
    assert all(stream.feed(OUTAGE, 30))
    needed = recovery_s // stream.detector.bucket_s

    after = stream.feed(GOOD, needed + 5)

    assert after[: needed - 1] == [True] * (needed - 1)
    assert after[needed - 1 :] == [False] * 6


def test_a_short_blip_inside_the_recovery_period_restarts_the_wait():
    stream = warmed_up()
    stream.feed(OUTAGE, 10)
    stream.feed(GOOD, RECENT_BUCKETS - 1)

    assert stream.feed(OUTAGE) == [True]
    assert all(stream.feed(GOOD, RECENT_BUCKETS - 1))
    assert stream.feed(GOOD) == [False]


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"window_s": 90}, "window_s"),
        ({"window_s": 0}, "window_s"),
        ({"window_s": 30}, "window_s"),
        ({"window_s": -60}, "window_s"),
        ({"baseline_s": 3_630}, "baseline_s"),
        ({"recovery_s": 601}, "recovery_s"),
        ({"bucket_s": 300, "window_s": 300, "baseline_s": 3_600, "recovery_s": 450}, "recovery_s"),
    ],
    ids=str,
)
def test_a_period_that_is_not_a_positive_whole_number_of_buckets_is_rejected(params, name):
    with pytest.raises(ValueError, match=f"{name} must be a positive multiple of bucket_s"):
        ErrorRateDetector(**params)


def test_periods_that_are_whole_numbers_of_buckets_are_accepted():
    detector = ErrorRateDetector(bucket_s=30, window_s=90, baseline_s=1_800, recovery_s=300)

    assert (detector.window_s, detector.baseline_s, detector.recovery_s) == (90, 1_800, 300)


@pytest.mark.parametrize("budget", [0, 0.0, -1.0])
def test_a_false_alarm_budget_that_is_not_positive_is_rejected(budget):
    with pytest.raises(ValueError, match="false_alarms_per_30_days must be positive"):
        ErrorRateDetector(false_alarms_per_30_days=budget)


def test_there_is_no_evidence_while_nothing_is_wrong():
    stream = warmed_up()

    assert stream.detector.evidence == {}


def test_the_evidence_of_an_alarm_carries_the_rates_the_p_value_and_alpha():
    stream = warmed_up()

    stream.feed(OUTAGE)

    evidence = stream.detector.evidence
    # Window: the last 5 buckets, 4 good and 1 outage. Baseline: 60 good buckets.
    calls, errors = 5 * 200, 4 * 2 + 100
    base_calls, base_errors = 60 * 200, 60 * 2
    assert (evidence["calls"], evidence["errors"]) == (calls, errors)
    assert (evidence["baseline_calls"], evidence["baseline_errors"]) == (base_calls, base_errors)
    assert evidence["error_rate"] == pytest.approx(errors / calls)
    assert evidence["baseline_error_rate"] == pytest.approx(base_errors / base_calls)
    assert evidence["latest_error_rate"] == pytest.approx(100 / 200)
    # One-sided Fisher exact test: the chance that the window would hold at least this many
    # of all the errors if errors fell on calls at random.
    expected_p = hypergeom.sf(errors - 1, calls + base_calls, errors + base_errors, calls)
    assert evidence["p_value"] == pytest.approx(expected_p, rel=1e-6)
    assert evidence["alpha"] == stream.detector.alpha
    assert evidence["p_value"] < evidence["alpha"]
    assert evidence["window_end"] == stream.next_start.isoformat()


def test_the_evidence_is_a_copy_that_callers_cannot_corrupt():
    stream = warmed_up()
    stream.feed(OUTAGE)

    stream.detector.evidence["p_value"] = 1.0

    assert stream.detector.evidence["p_value"] < stream.detector.alpha


def test_a_window_longer_than_the_recovery_period_raises_one_alarm_per_outage():
    stream = warmed_up(window_s=900, recovery_s=600)

    alarms = stream.feed(OUTAGE, 30) + stream.feed(GOOD, 60)

    raised = sum(
        1 for before, now in zip([False, *alarms], alarms, strict=False) if now and not before
    )
    assert raised == 1
