"""Suspects: a change right before the onset on whose version the bad calls concentrate
outranks earlier changes, later changes and changes the bad calls do not follow."""

from __future__ import annotations

from datetime import timedelta

from fireline.domain.telemetry import Change, ChangeKind
from fireline.investigate.suspects import (
    Concentration,
    concentration_score,
    proximity,
    ranked,
    suspect,
)
from tests.conftest import T0

ONSET = T0 + timedelta(hours=3)


def change(change_id: str, kind: ChangeKind, minutes_before: float) -> Change:
    return Change(change_id, ONSET - timedelta(minutes=minutes_before), kind, f"{change_id}-v")


def test_the_change_the_bad_calls_follow_right_before_the_onset_ranks_first() -> None:
    culprit = Concentration(bad_on_version=120, bad=120, base_on_version=0, base_calls=3000)
    decoy = Concentration(bad_on_version=120, bad=120, base_on_version=3000, base_calls=3000)
    found = ranked(
        [
            suspect(change("index", ChangeKind.INDEX, 120), ONSET, decoy),
            suspect(change("flag", ChangeKind.FLAG, 5), ONSET, None),
            suspect(change("prompt", ChangeKind.PROMPT, 1), ONSET, culprit),
            suspect(change("model", ChangeKind.MODEL, -60), ONSET, decoy),
        ]
    )
    assert [s.change.change_id for s in found] == ["prompt", "flag", "index", "model"]
    assert found[0].score > 0.95
    assert found[0].concentration is not None
    assert found[0].concentration.lift > 100


def test_closeness_halves_every_half_hour_before_and_falls_faster_after_the_onset() -> None:
    assert proximity(0) == 1.0
    assert proximity(1_800) == 0.5
    assert proximity(3_600) == 0.25
    assert proximity(-600) < proximity(600)
    assert proximity(-600, slack_s=600) == 1.0


def test_concentration_counts_only_when_bad_calls_ran_the_version_more_than_before() -> None:
    same = Concentration(bad_on_version=50, bad=100, base_on_version=500, base_calls=1000)
    assert concentration_score(same) == 0.0
    fewer = Concentration(bad_on_version=10, bad=100, base_on_version=500, base_calls=1000)
    assert concentration_score(fewer) == 0.0
    none_bad = Concentration(bad_on_version=0, bad=0, base_on_version=0, base_calls=1000)
    assert concentration_score(none_bad) == 0.0
    assert concentration_score(None) == 0.25


def test_rollback_is_available_only_with_a_target() -> None:
    with_target = suspect(change("p", ChangeKind.PROMPT, 1), ONSET, None, rollback_target="v1")
    assert with_target.rollback_available
    assert not suspect(change("p", ChangeKind.PROMPT, 1), ONSET, None).rollback_available
