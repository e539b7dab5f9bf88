"""The provider-outage drill: the whole loop on a simulated day, scored against ground truth."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest

from fireline.drill import SCENARIOS, Scorecard, run_drill

REQUIRED_KEYS = {
    "scenario",
    "detected",
    "time_to_detect_s",
    "severity",
    "containment_level",
    "false_alarms",
    "resolved",
}


@pytest.fixture(scope="module")
def outage_seed_0() -> Scorecard:
    return run_drill(SCENARIOS["provider-outage"], seed=0)


@pytest.mark.parametrize("seed", [1, 2])
def test_the_outage_is_detected_within_five_minutes_without_false_alarms(seed: int) -> None:
    card = run_drill(SCENARIOS["provider-outage"], seed=seed)
    assert card.detected
    assert card.time_to_detect_s is not None
    assert 0 <= card.time_to_detect_s <= 300
    assert card.false_alarms == 0
    assert card.severity in ("P0", "P1")
    assert card.containment_level == 4
    assert card.kill_switch_set
    assert card.kill_switch_cleared
    assert card.resolved
    assert card.passed, card.failures


def test_the_kill_switch_spares_users_most_failures(outage_seed_0: Scorecard) -> None:
    assert outage_seed_0.requests_served_by_fallback > 0
    # 45 minutes at ~2.9 requests/s and 60% failing would be ~4,700 failures without containment.
    assert outage_seed_0.failed_requests_seen_by_users < 2_500


def test_a_day_without_a_fault_raises_no_alarm() -> None:
    card = run_drill(SCENARIOS["quiet-day"], seed=0)
    assert card.false_alarms == 0
    assert card.incidents == 0
    assert not card.detected
    assert card.passed


def test_the_same_seed_gives_the_same_drill(outage_seed_0: Scorecard) -> None:
    again = run_drill(SCENARIOS["provider-outage"], seed=0)
    assert replace(again, wall_seconds=0) == replace(outage_seed_0, wall_seconds=0)


def test_a_drill_that_misses_its_fault_fails_its_scorecard() -> None:
    outage = SCENARIOS["provider-outage"]
    assert outage.fault is not None
    too_mild = replace(
        outage, duration_s=6 * 3600, fault=replace(outage.fault, onset_s=3 * 3600, error_rate=0.012)
    )
    card = run_drill(too_mild, seed=0)
    assert not card.passed
    assert "fault not detected" in card.failures


def test_the_cli_prints_the_scorecard_as_json() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fireline", "drill", "provider-outage", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    card = json.loads(result.stdout)
    assert set(card) >= REQUIRED_KEYS
    assert card["scenario"] == "provider-outage"
    assert card["detected"] is True
    assert card["false_alarms"] == 0
