"""Staged restoration: canary assignment by hashing, the canary judge, and the stage machine."""

import doctest
import itertools
import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from pydantic import ValidationError

import fireline.contain.canary
import fireline.contain.restore
from fireline.contain.restore import (
    TRANSITIONS,
    JudgeSettings,
    Phase,
    Rate,
    Restoration,
    RestorationSettings,
    Values,
    Verdict,
    in_canary,
    judge,
    share_point,
)
from fireline.errors import IllegalTransition

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BAKE = timedelta(minutes=10)
KEYS = [f"user-{i}" for i in range(5_000)]
SETTINGS = JudgeSettings(alpha=0.05, min_samples=50, min_calls=200)


def latency(rng: np.random.Generator, n: int, slower: float = 1.0) -> np.ndarray:
    return rng.lognormal(mean=6.0, sigma=0.5, size=n) * slower


def errors(rng: np.random.Generator, n: int, rate: float) -> int:
    return int(rng.binomial(n, rate))


def healthy_step(seed: int) -> list[Values | Rate]:
    rng = np.random.default_rng(seed)
    return [
        Values("latency_ms", latency(rng, 300), latency(rng, 1_000)),
        Rate("error_rate", errors(rng, 2_000, 0.02), 2_000, errors(rng, 8_000, 0.02), 8_000),
    ]


# -- canary assignment ---------------------------------------------------------------------


def test_the_same_key_and_salt_always_land_in_the_same_place():
    assert [share_point(k, "incident-7") for k in KEYS[:100]] == [
        share_point(k, "incident-7") for k in KEYS[:100]
    ]


def test_a_user_in_the_canary_stays_in_as_the_share_grows():
    shares = (0.05, 0.25, 0.5, 1.0)
    members = [{k for k in KEYS if in_canary(k, s, "incident-7")} for s in shares]

    for smaller, larger in itertools.pairwise(members):
        assert smaller <= larger
    assert members[-1] == set(KEYS)


@pytest.mark.parametrize("share", [0.05, 0.25, 0.5])
def test_the_canary_holds_about_its_share_of_users(share):
    inside = sum(in_canary(k, share, "incident-7") for k in KEYS) / len(KEYS)

    # Binomial standard error at n = 5,000 is at most 0.7 points; 2.5 points is > 3.5 sigma.
    assert inside == pytest.approx(share, abs=0.025)


def test_a_share_of_zero_admits_no_one():
    assert not any(in_canary(k, 0.0, "incident-7") for k in KEYS)


def test_another_salt_draws_another_canary():
    first = {k for k in KEYS if in_canary(k, 0.25, "incident-7")}
    second = {k for k in KEYS if in_canary(k, 0.25, "incident-8")}

    # Independent 25 % draws overlap on about 6 % of users, not 25 %.
    assert len(first & second) / len(KEYS) < 0.1


# -- the judge -----------------------------------------------------------------------------


def test_the_judge_promotes_a_healthy_canary():
    judgement = judge(healthy_step(seed=1), SETTINGS)

    assert judgement.verdict is Verdict.PROMOTE


def test_the_judge_rolls_back_a_canary_with_clearly_worse_latency():
    rng = np.random.default_rng(2)
    slow = Values("latency_ms", latency(rng, 300, slower=1.3), latency(rng, 1_000))

    judgement = judge([slow], SETTINGS)

    assert judgement.verdict is Verdict.ROLLBACK
    assert judgement.tests[0].test == "mann_whitney_u"
    assert judgement.tests[0].p_value < SETTINGS.alpha


def test_the_judge_rolls_back_a_canary_with_a_clearly_higher_error_rate():
    judgement = judge([Rate("error_rate", 120, 2_000, 160, 8_000)], SETTINGS)

    assert judgement.verdict is Verdict.ROLLBACK
    assert judgement.tests[0].test == "two_proportion_z"
    assert judgement.tests[0].canary == pytest.approx(0.06)
    assert judgement.tests[0].statistic > 3


def test_a_lower_rate_is_worse_when_the_signal_says_so():
    pass_rate = Rate("eval_pass_rate", 1_700, 2_000, 7_600, 8_000, worse="lower")

    assert judge([pass_rate], SETTINGS).verdict is Verdict.ROLLBACK


def test_a_better_canary_is_never_rolled_back_whatever_the_sample():
    fewer_errors = Rate("error_rate", 10, 2_000, 800, 8_000)
    rng = np.random.default_rng(3)
    faster = Values("latency_ms", latency(rng, 300, slower=0.5), latency(rng, 1_000))

    assert judge([fewer_errors, faster], SETTINGS).verdict is Verdict.PROMOTE


def test_the_judge_holds_below_the_minimum_sample_even_when_the_canary_looks_worse():
    rng = np.random.default_rng(4)
    few = Values("latency_ms", latency(rng, 20, slower=3.0), latency(rng, 1_000))

    judgement = judge([few, Rate("error_rate", 50, 100, 10, 8_000)], SETTINGS)

    assert judgement.verdict is Verdict.HOLD
    assert not any(t.enough_data for t in judgement.tests)
    assert judgement.reason == "not enough data yet: latency_ms, error_rate"


def test_a_worse_signal_rolls_back_even_while_another_still_lacks_data():
    worse = Rate("error_rate", 120, 2_000, 160, 8_000)
    rng = np.random.default_rng(5)
    few = Values("latency_ms", latency(rng, 10), latency(rng, 1_000))

    assert judge([worse, few], SETTINGS).verdict is Verdict.ROLLBACK


def test_with_no_signals_the_judge_holds():
    assert judge([], SETTINGS).verdict is Verdict.HOLD


def test_rare_events_are_judged_by_fishers_exact_test():
    judgement = judge([Rate("pii_leaks", 6, 2_000, 0, 8_000)], SETTINGS)

    assert judgement.tests[0].test == "fisher_exact"
    assert judgement.verdict is Verdict.ROLLBACK


def test_each_signal_is_tested_at_alpha_divided_by_the_number_of_signals():
    judgement = judge(healthy_step(seed=6), SETTINGS)

    assert [t.alpha for t in judgement.tests] == [SETTINGS.alpha / 2] * 2


def test_a_tolerated_slowdown_is_promoted_where_a_strict_judge_rolls_back():
    rng = np.random.default_rng(7)
    slightly_slower = [Values("latency_ms", latency(rng, 5_000, 1.03), latency(rng, 5_000))]
    tolerant = SETTINGS.model_copy(update={"latency_tolerance": 0.1})

    assert judge(slightly_slower, SETTINGS).verdict is Verdict.ROLLBACK
    assert judge(slightly_slower, tolerant).verdict is Verdict.PROMOTE


def test_a_tolerated_rise_in_a_rate_is_promoted_where_a_strict_judge_rolls_back():
    one_point_up = [Rate("error_rate", 600, 20_000, 400, 20_000)]
    tolerant = SETTINGS.model_copy(update={"rate_tolerance": 0.02})

    assert judge(one_point_up, SETTINGS).verdict is Verdict.ROLLBACK
    assert judge(one_point_up, tolerant).verdict is Verdict.PROMOTE


def test_healthy_canaries_are_rolled_back_no_more_often_than_alpha():
    trials = 200
    rollbacks = sum(
        judge(healthy_step(seed), SETTINGS).verdict is Verdict.ROLLBACK
        for seed in range(1_000, 1_000 + trials)
    )

    # alpha = 5 % bounds the rate; 10 expected at most, and P(Binomial(200, 0.05) > 20) < 0.1 %.
    assert rollbacks <= 20


def test_clearly_worse_canaries_are_rolled_back_almost_always():
    def worse_step(seed: int) -> list[Values | Rate]:
        rng = np.random.default_rng(seed)
        return [
            Values("latency_ms", latency(rng, 300, slower=1.3), latency(rng, 1_000)),
            Rate("error_rate", errors(rng, 2_000, 0.02), 2_000, errors(rng, 8_000, 0.02), 8_000),
        ]

    caught = sum(judge(worse_step(s), SETTINGS).verdict is Verdict.ROLLBACK for s in range(200))

    assert caught >= 190


def scores(rng: np.random.Generator, n: int, mean: float) -> np.ndarray:
    return np.clip(rng.normal(mean, 0.1, n), 0, 1)


def test_a_canary_still_short_of_its_margin_is_held_though_not_significantly_worse():
    rng = np.random.default_rng(8)
    # The incident saw the score fall 0.03; the canary is still 0.01 down on 150 calls.
    drifting = Values("eval.quality", scores(rng, 150, 0.84), scores(rng, 2_000, 0.85), "lower")
    with_margin = Values("eval.quality", drifting.canary, drifting.baseline, "lower", margin=0.015)

    assert judge([drifting], SETTINGS).verdict is Verdict.PROMOTE
    held = judge([with_margin], SETTINGS)
    assert held.verdict is Verdict.HOLD
    assert held.reason == "not yet shown within its margin of the baseline: eval.quality"
    assert held.tests[0].proven is False
    assert not held.short_of_data


def test_a_canary_shown_back_within_its_margin_is_promoted():
    rng = np.random.default_rng(9)
    recovered = Values(
        "eval.quality", scores(rng, 2_000, 0.85), scores(rng, 2_000, 0.85), "lower", margin=0.03
    )

    judgement = judge([recovered], SETTINGS)

    assert judgement.verdict is Verdict.PROMOTE
    assert judgement.tests[0].proven is True


def test_a_rate_must_be_shown_back_within_its_margin_and_a_hold_for_data_says_so():
    still_high = Rate("scan.pii", 12, 400, 2, 4_000, margin=0.02)
    back = Rate("scan.pii", 1, 400, 2, 4_000, margin=0.02)
    few = Rate("scan.pii", 0, 50, 2, 4_000, margin=0.02)

    assert judge([still_high], SETTINGS).verdict is not Verdict.PROMOTE
    assert judge([back], SETTINGS).verdict is Verdict.PROMOTE
    short = judge([few], SETTINGS)
    assert short.verdict is Verdict.HOLD
    assert short.short_of_data


# -- the stage machine ---------------------------------------------------------------------


def started() -> Restoration:
    return Restoration.start("support-bot", salt="incident-7", at=T0)


def test_promotions_walk_the_stages_up_to_full_service():
    restoration, shares = started(), []
    for i in range(1, 4):
        shares.append(restoration.share)
        restoration = restoration.step(Verdict.PROMOTE, T0 + i * BAKE)

    assert shares == [0.05, 0.25, 0.5]
    assert restoration.phase is Phase.RESTORED
    assert restoration.share == 1.0
    assert restoration.finished


def test_a_hold_keeps_the_stage_and_its_start():
    restoration = started().step(Verdict.HOLD, T0 + BAKE)

    assert restoration == started()


def test_a_promotion_before_the_bake_time_is_a_hold():
    restoration = started().step(Verdict.PROMOTE, T0 + BAKE - timedelta(seconds=1))

    assert restoration.share == 0.05
    assert restoration.stage_started_at == T0


@pytest.mark.parametrize("promotions", [0, 1, 2])
def test_a_rollback_at_any_stage_sends_everyone_back_to_the_contained_path(promotions):
    restoration = started()
    for i in range(promotions):
        restoration = restoration.step(Verdict.PROMOTE, T0 + (i + 1) * BAKE)

    rolled_back = restoration.step(Verdict.ROLLBACK, T0 + 5 * BAKE)

    assert rolled_back.phase is Phase.ROLLED_BACK
    assert rolled_back.share == 0.0
    assert not any(rolled_back.admits(k) for k in KEYS[:500])


@pytest.mark.parametrize("verdict", list(Verdict))
def test_a_finished_restoration_accepts_no_more_verdicts(verdict):
    finished = started().step(Verdict.ROLLBACK, T0 + BAKE)

    with pytest.raises(IllegalTransition):
        finished.step(verdict, T0 + 2 * BAKE)


def test_the_transition_table_answers_every_verdict_while_restoring():
    assert {v for (phase, v) in TRANSITIONS if phase is Phase.RESTORING} == set(Verdict)


def test_the_restoration_admits_exactly_the_canary_of_its_salt():
    restoration = started().step(Verdict.PROMOTE, T0 + BAKE)

    assert [restoration.admits(k) for k in KEYS[:500]] == [
        in_canary(k, 0.25, "incident-7") for k in KEYS[:500]
    ]


def test_a_restoration_survives_a_round_trip_through_json():
    restoration = started().step(Verdict.PROMOTE, T0 + BAKE)

    loaded = Restoration.from_state(json.loads(json.dumps(restoration.to_state())))

    assert loaded == restoration


def test_configured_stages_are_followed():
    settings = RestorationSettings(stages=(0.1, 1.0), min_stage_s=0)
    restoration = Restoration.start("bot", salt="s", at=T0, settings=settings)

    assert restoration.share == 0.1
    assert restoration.step(Verdict.PROMOTE, T0).phase is Phase.RESTORED


@pytest.mark.parametrize("stages", [(), (0.5,), (0.25, 0.05, 1.0), (0.0, 1.0), (0.5, 0.5, 1.0)])
def test_stages_must_rise_strictly_to_all_traffic(stages):
    with pytest.raises(ValidationError):
        RestorationSettings(stages=stages)


@pytest.mark.parametrize("module", [fireline.contain.canary, fireline.contain.restore])
def test_the_examples_in_the_docstrings_hold(module):
    failed, attempted = doctest.testmod(module, verbose=False, report=False)

    assert attempted > 0
    assert failed == 0
