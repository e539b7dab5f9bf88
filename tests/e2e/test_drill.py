"""Drills run the whole loop on a simulated clock and score it against the scenario: the
provider outage end to end, a short scenario for determinism and misses, and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from fireline.drill import Scorecard, load_scenario, run_drill
from fireline.drill.spec import parse_scenario

#: The keys of a scenario's scorecard in `fireline drill --json`.
SCORECARD_KEYS = {
    "scenario",
    "detected",
    "time_to_detect_s",
    "time_to_contain_s",
    "time_to_resolve_s",
    "type_correct",
    "severity",
    "severity_correct",
    "containment_level",
    "containment_correct",
    "root_cause_rank",
    "blast_radius_precision",
    "blast_radius_recall",
    "false_alarms",
    "eval_cases",
}

SHORT_OUTAGE = """\
name: short-outage
description: Six hours of a support bot; its provider fails 70% of requests for 30 minutes.
duration: 6h
features:
  - name: support-bot
    rate: 2.0
    users: 3000
    segments:
      tenant: {acme: 0.5, globex: 0.5}
      prompt_version: {v1: 1.0}
changes:
  - {id: prompt-v2, at: 2h, feature: support-bot, kind: prompt, previous_version: v1,
     version: v2}
faults:
  - kind: error_burst
    feature: support-bot
    onset: 3h
    duration: 30m
    error_rate: 0.7
    error_types: {http_503: 1.0}
expected:
  incident_type: availability
  severity: P0-P1
  containment_level: feature_disabled
  detect_within: 5m
"""


@pytest.fixture(scope="module")
def outage() -> Scorecard:
    return run_drill(load_scenario("provider-outage"), seed=0)


@pytest.fixture(scope="module")
def short() -> Scorecard:
    return run_drill(parse_scenario(SHORT_OUTAGE), seed=3)


def test_the_outage_is_detected_contained_and_resolved_as_expected(outage: Scorecard) -> None:
    assert outage.detected
    assert outage.time_to_detect_s is not None
    assert 0 <= outage.time_to_detect_s <= 300
    assert outage.type_correct
    assert outage.severity_correct
    assert outage.containment_level == 4
    assert outage.containment_correct
    assert outage.time_to_contain_s is not None
    assert outage.time_to_contain_s <= 300
    assert outage.resolved
    assert outage.false_alarms == 0
    assert outage.passed, outage.failures


def test_the_outage_is_investigated_with_its_blast_radius_evals_and_review(
    outage: Scorecard,
) -> None:
    assert (outage.blast_radius_precision or 0) >= 0.9
    assert (outage.blast_radius_recall or 0) >= 0.9
    assert (outage.eval_cases or 0) >= 1
    assert outage.review_drafted
    assert outage.root_cause_rank is None  # no deploy caused it


def test_the_kill_switch_spares_users_most_failures(outage: Scorecard) -> None:
    assert outage.requests_served_by_fallback > 0
    # 45 minutes at ~2.9 requests/s and 60% failing would be ~4,700 failures without containment.
    assert outage.failed_requests_seen_by_users < 2_500


def test_the_same_seed_gives_the_same_drill(short: Scorecard) -> None:
    again = run_drill(parse_scenario(SHORT_OUTAGE), seed=3)

    assert replace(again, wall_seconds=0) == replace(short, wall_seconds=0)
    assert short.passed, short.failures


def test_a_deploy_that_did_not_cause_the_outage_is_no_root_cause(short: Scorecard) -> None:
    assert short.root_cause_rank is None
    assert any("restor" in line for line in short.timeline)


def test_a_drill_that_misses_its_fault_fails_its_scorecard() -> None:
    too_mild = SHORT_OUTAGE.replace("error_rate: 0.7", "error_rate: 0.012")

    card = run_drill(parse_scenario(too_mild), seed=0)

    assert not card.passed
    assert card.failures[0] == "fault not detected"
    assert card.type_correct is None


def fireline(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fireline", "drill", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_cli_runs_a_scenario_file_and_prints_the_scorecards_as_json(tmp_path: Path) -> None:
    scenario = tmp_path / "short.yaml"
    scenario.write_text(SHORT_OUTAGE)

    result = fireline(str(scenario), "--json", "--seed", "3")

    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert set(answer) == {"scenarios", "overall"}
    [card] = answer["scenarios"]
    assert set(card) >= SCORECARD_KEYS
    assert (card["scenario"], card["detected"], card["false_alarms"]) == ("short-outage", True, 0)
    assert answer["overall"]["passed"] == 1
    assert answer["overall"]["score"] == 100.0


def test_a_bad_scenario_file_is_refused_with_its_line(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text(SHORT_OUTAGE.replace("error_rate: 0.7", "error_rate: 7"))

    result = fireline(str(scenario))

    assert result.returncode == 2
    assert f"{scenario}:19: faults.0.error_rate" in result.stderr


def test_the_cli_lists_the_built_in_scenarios() -> None:
    result = fireline("--list")

    assert result.returncode == 0, result.stderr
    for name in ("provider-outage", "slow-quality-drift", "quiet-day", "context-poisoning"):
        assert name in result.stdout


def test_the_cli_wants_one_scenario_or_all() -> None:
    result = fireline()

    assert result.returncode == 2
    assert "give one scenario" in result.stderr


def test_a_tabletop_exercise_records_a_persons_decisions_from_the_terminal(
    tmp_path: Path,
) -> None:
    record = tmp_path / "decisions.json"
    # availability, P1, level 4, kill switch, no change, playbook 10 (provider outage), step 1
    answers = "1\n2\n4\n1\n1\n10\n1\n"

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "fireline",
            "drill",
            "--tabletop",
            "provider-outage",
            "--record",
            str(record),
        ],
        input=answers,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    found = json.loads(record.read_text())
    assert found["decisions"]["incident_type"] == "availability"
    assert found["decisions"]["containment_level"] == 4
    assert found["decisions"]["playbook"] == "provider-outage"
    verdicts = {c["decision"]: c["correct"] for c in found["comparison"]}
    assert verdicts["containment level"] is True
    assert verdicts["playbook"] is True


def test_a_tabletop_exercise_of_an_unknown_scenario_is_refused() -> None:
    result = fireline("--tabletop", "no-such-scenario")

    assert result.returncode == 2
    assert "no-such-scenario" in result.stdout + result.stderr
