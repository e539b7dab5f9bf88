"""The drill's simulated app obeys its guards as the SDK tells apps to, and knows which calls
a fault harmed; the drill ticks finely only where timing matters; scorecards add up."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from fireline.domain.guard import ContainmentLevel, Guard
from fireline.drill.app import SimulatedApp, harmed_mask
from fireline.drill.generator import generate
from fireline.drill.scorecard import Scorecard, failures_of, overall
from fireline.drill.spec import parse_scenario

SPEC = parse_scenario(
    """\
name: app-under-guards
duration: 3h
features:
  - name: bot
    rate: 20
    segments:
      tenant: {acme: 0.5, globex: 0.5}
      prompt_version: {v1: 1.0}
changes:
  - {id: prompt-v2, at: 1h, feature: bot, kind: prompt, previous_version: v1, version: v2}
faults:
  - kind: error_burst
    feature: bot
    onset: 1h
    duration: 1h
    where: {prompt_version: v2}
    error_rate: 0.8
  - kind: bad_answer
    feature: bot
    onset: 1h
    duration: 1h
    where: {prompt_version: v2}
    rate: 0.5
    text: the company is going out of business
"""
)
APP = SimulatedApp(SPEC, seed=4)
IN_FAULT = (SPEC.start + timedelta(minutes=70), SPEC.start + timedelta(minutes=80))


def served(guard: Guard):  # type: ignore[no-untyped-def]
    return APP.serve(*IN_FAULT, {"bot": guard})


def test_without_a_guard_every_request_reaches_the_faulty_model() -> None:
    found = served(Guard.normal("bot"))
    batch = generate(SPEC, 4, *IN_FAULT)

    assert found.columns["call_id"] == batch.call_ids()
    assert found.fallback == found.turned_away == 0
    assert 0.7 < found.failed_for_users / len(batch) < 0.9
    assert set(found.harmed) <= set(found.columns["call_id"])
    assert len(found.harmed) > 0.7 * len(batch)


def test_a_kill_switch_lets_only_the_probe_share_reach_the_model() -> None:
    found = served(Guard("bot", ContainmentLevel.FEATURE_DISABLED, probe_share=0.1))
    everyone = len(generate(SPEC, 4, *IN_FAULT))

    recorded = len(found.columns["call_id"])
    assert 0.05 * everyone < recorded < 0.15 * everyone
    assert all(a == {"probe": True} for a in found.columns["attributes"])
    assert found.fallback == everyone - recorded


def test_fallback_mode_answers_from_the_configured_fallback_without_the_fault() -> None:
    guard = Guard("bot", ContainmentLevel.FALLBACK, fallback={"model": "small-model"})
    found = served(guard)

    assert found.fallback == len(found.columns["call_id"]) > 0
    assert set(found.columns["model"]) == {"small-model"}
    assert found.failed_for_users < 0.05 * found.fallback
    assert found.harmed == []
    assert not any("going out of business" in (t or "") for t in found.columns["output_text"])


def test_a_guard_narrowed_to_a_tenant_leaves_the_other_tenant_on_the_model() -> None:
    guard = Guard("bot", ContainmentLevel.FEATURE_DISABLED, segment={"tenant": "acme"})
    found = served(guard)

    assert set(found.columns["tenant"]) == {"globex"}
    assert found.fallback > 0


def test_rolling_the_prompt_back_takes_requests_off_the_faulty_version() -> None:
    found = served(Guard("bot", routing={"prompt": "v1"}))

    assert set(found.columns["prompt_version"]) == {"v1"}
    assert found.failed_for_users < 0.05 * len(found.columns["call_id"])
    assert found.harmed == []


def test_a_pin_holds_for_probes_and_for_requests_outside_the_guards_segment() -> None:
    guard = Guard(
        "bot",
        ContainmentLevel.FEATURE_DISABLED,
        probe_share=0.5,
        segment={"tenant": "acme"},
        routing={"prompt": "v1"},
    )
    found = served(guard)

    assert {a.get("probe") for a in found.columns["attributes"]} == {True, None}
    assert set(found.columns["prompt_version"]) == {"v1"}
    assert found.harmed == []


def test_a_throttle_and_an_input_filter_turn_requests_away() -> None:
    found = served(Guard("bot", ContainmentLevel.WARN, throttle=0.5))
    everyone = len(generate(SPEC, 4, *IN_FAULT))

    assert 0.4 * everyone < found.turned_away < 0.6 * everyone
    blocked = served(Guard("bot", ContainmentLevel.WARN, block_input=(r"order",)))
    assert blocked.turned_away == everyone


def test_a_staged_restoration_marks_the_requests_it_lets_back() -> None:
    restoring = {"phase": "restoring", "stages": [0.5, 1.0], "stage": 0, "salt": "s"}
    guard = Guard("bot", ContainmentLevel.FEATURE_DISABLED, restoration=restoring)
    found = served(guard)

    restored = [a for a in found.columns["attributes"] if a.get("restored")]
    assert 0.3 * found.fallback < len(restored) < 3 * found.fallback


def test_harmed_calls_are_the_faulty_segments_calls_that_show_the_fault() -> None:
    batch = generate(SPEC, 4, SPEC.start, SPEC.end)
    harmed = harmed_mask(SPEC, batch)
    c = batch.columns

    assert not harmed[c["prompt_version"] == "v1"].any()
    in_fault = c["faults"] != 0
    assert 0.85 < harmed[in_fault].mean() < 0.95  # 80% fail, half the rest answer badly
    assert (harmed[in_fault] <= (c["failed"] | (c["bad_text"] != None))[in_fault]).all()  # noqa: E711


def test_a_slowdown_harms_the_calls_it_makes_slower_than_nineteen_in_twenty_healthy_ones() -> None:
    spec = parse_scenario(
        """\
name: ramp
duration: 1h
features:
  - {name: bot, rate: 20, baseline: {latency: {median_ms: 1000, spread: 0.3}}}
faults:
  - {kind: latency, feature: bot, onset: 10m, duration: 20m, ramp: 10m, factor: 5}
"""
    )
    batch = generate(spec, 1, spec.start, spec.end)
    harmed = harmed_mask(spec, batch)
    c = batch.columns
    minutes = np.array([(t - spec.start).total_seconds() / 60 for t in batch.times()])
    healthy_p95 = 1000 * np.exp(1.6449 * 0.3)

    assert not harmed[(minutes < 10) | (minutes >= 30)].any()
    assert (c["latency_ms"][harmed] > healthy_p95).all()
    full = (minutes >= 20) & (minutes < 30)
    assert harmed[full].mean() > 0.99  # five times slower: nearly every call
    early = (minutes >= 10) & (minutes < 11)  # barely slower yet: about the usual 5 %
    assert harmed[early].mean() < 0.2


def card(**changes: object) -> Scorecard:
    base: dict[str, object] = {
        "scenario": "s",
        "seed": 0,
        "detected": True,
        "time_to_detect_s": 60.0,
        "time_to_contain_s": 60.0,
        "time_to_resolve_s": 3600.0,
        "incident_type": "availability",
        "type_correct": True,
        "severity": "P1",
        "severity_correct": True,
        "containment_level": 4,
        "containment_correct": True,
        "containment_applied": 4,
        "root_cause_rank": None,
        "blast_radius_precision": 0.95,
        "blast_radius_recall": 0.99,
        "false_alarms": 0,
        "eval_cases": 3,
        "review_drafted": True,
        "resolved": True,
        "expected": {
            "incident_type": "availability",
            "severity": ["P0", "P1"],
            "containment_level": 4,
            "root_cause_change": None,
            "detect_within": 300.0,
            "resolves": True,
        },
        "fault_onset": None,
        "detected_at": None,
        "resolved_at": None,
        "incidents": 1,
        "calls_recorded": 10,
        "requests_served_by_fallback": 0,
        "requests_turned_away": 0,
        "failed_requests_seen_by_users": 0,
        "simulated_seconds": 86400.0,
        "wall_seconds": 1.0,
        "passed": True,
    }
    return Scorecard(**{**base, **changes})  # type: ignore[arg-type]


def test_a_scorecard_that_meets_every_target_has_no_failures() -> None:
    assert failures_of(card()) == []


def test_each_missed_target_is_named() -> None:
    missed = card(containment_level=3, containment_correct=False, time_to_detect_s=900.0)

    assert failures_of(missed) == [
        "containment level 3, expected 4",
        "detected after 900.0 s, expected within 300.0 s",
    ]
    assert failures_of(card(detected=False, false_alarms=2)) == [
        "fault not detected",
        "2 false alarm(s)",
    ]


def test_a_fault_that_lasts_to_the_end_expects_its_incident_still_open() -> None:
    lasting = {**card().expected, "resolves": False}  # type: ignore[dict-item]

    assert failures_of(card(expected=lasting, resolved=True)) == [
        "incident resolved while the fault went on"
    ]
    assert failures_of(card(expected=lasting, resolved=False)) == []
    assert failures_of(card(resolved=False)) == ["incident not resolved"]


def test_the_overall_score_is_the_share_of_targets_met() -> None:
    quiet = card(expected=None, false_alarms=1)
    summary = overall([card(), quiet])

    # 8 targets met of the fault scenario's 8, none of the quiet day's one.
    assert summary["score"] == round(100 * 8 / 9, 1)
    assert summary["false_alarms"] == 1
    assert summary["fault_scenarios"] == 1
    assert summary["median_time_to_detect_s"] == 60.0
