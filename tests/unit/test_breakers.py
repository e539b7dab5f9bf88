"""Circuit breakers: the contract every breaker keeps, and what each one measures."""

import doctest
import json
from datetime import UTC, datetime, timedelta

import pytest

import fireline.contain.breaker
from fireline.contain.breaker import (
    BREAKERS,
    Breaker,
    BreakerState,
    CostBreaker,
    ErrorRateBreaker,
    LatencyBreaker,
    Observation,
)
from fireline.contain.config import BreakerSettings

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
SHARE = 0.1
#: Budgets, and one minute of full traffic (100 calls) well within and well beyond each.
BUDGETS = {"error_rate": 0.1, "cost_per_hour": 60.0, "latency_p99_ms": 1000.0}
GOOD = {"errors": 1, "cost_usd": 0.5, "latency_p99_ms": 400.0}  # 1 %, $30/h, 400 ms
BAD = {"errors": 50, "cost_usd": 3.0, "latency_p99_ms": 3000.0}  # 50 %, $180/h, 3 s


def make(cls: type[Breaker], **overrides: object) -> Breaker:
    settings = {
        "budget": BUDGETS[cls.metric],
        "window_s": 300,
        "min_calls": 100,
        "cooldown_s": 300,
        "probe_share": SHARE,
        "probe_window_s": 60,
        "min_probe_calls": 10,
        "probes_to_close": 3,
        **overrides,
    }
    return cls(**settings)  # type: ignore[arg-type]


def bucket(i: int, values: dict[str, float], share: float = 1.0, calls: int = 100) -> Observation:
    """Minute `i` of traffic at `share` of full volume (probes carry a share of the calls)."""
    return Observation(
        T0 + i * MINUTE,
        T0 + (i + 1) * MINUTE,
        calls=round(calls * share),
        errors=round(values["errors"] * share),
        cost_usd=values["cost_usd"] * share,
        latency_p99_ms=values["latency_p99_ms"],
    )


def feed(breaker: Breaker, observations: list[Observation]) -> list[str]:
    states = []
    for observation in observations:
        breaker.update(observation)
        states.append(breaker.state.value)
    return states


def tripped_at_minute_1(breaker: Breaker) -> None:
    feed(breaker, [bucket(0, GOOD), bucket(1, BAD)])
    assert breaker.state is BreakerState.OPEN


every_breaker = pytest.mark.parametrize("cls", list(BREAKERS.values()), ids=list(BREAKERS))


@every_breaker
def test_a_new_breaker_is_closed_and_lets_all_traffic_through(cls):
    breaker = make(cls)

    assert breaker.state is BreakerState.CLOSED
    assert breaker.allowed_share == 1.0
    assert not breaker.tripped


@every_breaker
def test_a_breaker_stays_closed_while_the_budget_holds(cls):
    breaker = make(cls)

    assert set(feed(breaker, [bucket(i, GOOD) for i in range(30)])) == {"closed"}


@every_breaker
def test_a_breaker_trips_when_the_window_breaks_the_budget_with_enough_calls(cls):
    breaker = make(cls)

    assert feed(breaker, [bucket(0, GOOD), bucket(1, BAD)]) == ["closed", "open"]
    assert breaker.allowed_share == 0.0
    assert breaker.opened_at == T0 + 2 * MINUTE
    assert breaker.evidence["measure"] > breaker.evidence["budget"]


@every_breaker
def test_a_breaker_does_not_trip_on_fewer_calls_than_its_minimum(cls):
    breaker = make(cls, min_calls=1_000)

    assert set(feed(breaker, [bucket(i, BAD) for i in range(5)])) == {"closed"}


@every_breaker
def test_an_open_breaker_waits_out_its_cool_down_then_half_opens_with_the_probe_share(cls):
    breaker = make(cls)
    tripped_at_minute_1(breaker)

    # Open at the end of minute 1 (T0 + 2 min); the cool-down of 5 minutes ends at T0 + 7 min.
    states = feed(breaker, [bucket(i, BAD, share=0.0) for i in range(2, 7)])

    assert states == ["open", "open", "open", "open", "half_open"]
    assert breaker.allowed_share == SHARE


@every_breaker
def test_a_half_open_breaker_closes_after_enough_good_probe_windows_and_not_before(cls):
    breaker = make(cls)
    tripped_at_minute_1(breaker)
    feed(breaker, [bucket(i, BAD, share=0.0) for i in range(2, 7)])

    states = feed(breaker, [bucket(i, GOOD, share=SHARE) for i in range(7, 10)])

    assert states == ["half_open", "half_open", "closed"]
    assert breaker.allowed_share == 1.0
    assert breaker.opened_at is None


@every_breaker
def test_a_bad_probe_window_reopens_the_breaker_and_restarts_the_cool_down(cls):
    breaker = make(cls)
    tripped_at_minute_1(breaker)
    feed(breaker, [bucket(i, BAD, share=0.0) for i in range(2, 7)])

    states = feed(breaker, [bucket(7, GOOD, share=SHARE), bucket(8, BAD, share=SHARE)])

    assert states == ["half_open", "open"]
    assert breaker.opened_at == T0 + 9 * MINUTE


@every_breaker
def test_a_probe_window_needs_its_minimum_calls_before_it_counts(cls):
    breaker = make(cls, min_probe_calls=30)
    tripped_at_minute_1(breaker)
    feed(breaker, [bucket(i, BAD, share=0.0) for i in range(2, 7)])

    # 10 probe calls a minute: a window closes every 3 minutes, so 3 good ones take 9.
    states = feed(breaker, [bucket(i, GOOD, share=SHARE) for i in range(7, 16)])

    assert states == ["half_open"] * 8 + ["closed"]


@every_breaker
def test_a_breaker_restored_from_json_continues_exactly_like_the_original(cls):
    original = make(cls)
    tripped_at_minute_1(original)
    feed(original, [bucket(i, BAD, share=0.0) for i in range(2, 7)])
    feed(original, [bucket(7, GOOD, share=SHARE)])

    copy = make(cls)
    copy.load_state(json.loads(json.dumps(original.to_state())))
    rest = [bucket(8, GOOD, share=SHARE), bucket(9, GOOD, share=SHARE)] + [
        bucket(i, BAD if i % 3 else GOOD) for i in range(10, 20)
    ]

    assert feed(copy, rest) == feed(original, rest)
    assert copy.to_state() == original.to_state()


@every_breaker
def test_a_breaker_refuses_the_state_of_another_metric(cls):
    other = next(c for c in BREAKERS.values() if c is not cls)

    with pytest.raises(ValueError, match="breaker"):
        make(cls).load_state(make(other).to_state())


def test_the_error_rate_is_judged_over_the_window_not_one_bucket():
    breaker = make(ErrorRateBreaker)
    # One minute at 30 % among four at 1 %: the window's rate is 6.8 %, under 10 %.
    spiky = {**GOOD, "errors": 30}

    feed(breaker, [bucket(0, GOOD), bucket(1, GOOD), bucket(2, GOOD), bucket(3, spiky)])
    feed(breaker, [bucket(4, GOOD)])

    assert breaker.state is BreakerState.CLOSED
    assert breaker.evidence["measure"] == pytest.approx(34 / 500)


def test_buckets_older_than_the_window_are_forgotten():
    breaker = make(ErrorRateBreaker, window_s=120, min_calls=0)
    feed(breaker, [bucket(0, {**GOOD, "errors": 9}), bucket(1, GOOD), bucket(2, GOOD)])

    assert breaker.evidence["calls"] == 200
    assert breaker.evidence["window_start"] == (T0 + MINUTE).isoformat()


def test_probe_spend_is_scaled_to_full_traffic_before_it_is_compared_with_the_budget():
    breaker = make(CostBreaker)
    tripped_at_minute_1(breaker)
    feed(breaker, [bucket(i, BAD, share=0.0) for i in range(2, 7)])

    # The probes spend 10 % of $180/h = $18/h, under the $60/h budget; at full traffic
    # that is $180/h, so the breaker must re-open.
    breaker.update(bucket(7, BAD, share=SHARE))

    assert breaker.state is BreakerState.OPEN
    assert breaker.evidence["measure"] == pytest.approx(180.0)


def test_the_latency_breaker_weighs_each_buckets_p99_by_its_calls():
    breaker = make(LatencyBreaker, min_calls=0)
    feed(breaker, [bucket(0, GOOD, calls=300), bucket(1, {**GOOD, "latency_p99_ms": 2000.0})])

    assert breaker.evidence["measure"] == pytest.approx((300 * 400 + 100 * 2000) / 400)
    assert breaker.state is BreakerState.CLOSED


def test_buckets_without_latencies_do_not_count_toward_the_p99():
    breaker = make(LatencyBreaker, min_calls=0)
    no_latency = Observation(T0 + MINUTE, T0 + 2 * MINUTE, calls=100, latency_p99_ms=None)
    feed(breaker, [bucket(0, GOOD), no_latency])

    assert breaker.evidence["measure"] == pytest.approx(400.0)


def test_breaker_settings_build_the_breaker_for_their_metric():
    settings = BreakerSettings(metric="latency_p99_ms", budget=1500, cooldown_s=60)
    breaker = settings.build()

    assert isinstance(breaker, LatencyBreaker)
    assert (breaker.budget, breaker.cooldown_s) == (1500, 60)


@pytest.mark.parametrize("bad", [{"probe_share": 0.0}, {"probes_to_close": 0}, {"window_s": 0}])
def test_a_breaker_refuses_settings_under_which_it_could_never_close(bad):
    with pytest.raises(ValueError):  # noqa: PT011 - the message names the setting
        make(ErrorRateBreaker, **bad)


def test_the_examples_in_the_docstrings_hold():
    failed, attempted = doctest.testmod(fireline.contain.breaker, verbose=False, report=False)

    assert attempted > 0
    assert failed == 0
