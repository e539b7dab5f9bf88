"""Tabletop mode driven by a scripted person: the questions, their checks, the scorecard."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from fireline.drill.tabletop import tabletop

SCENARIO = """\
name: prompt-regression
description: Prompt v2 makes the bot refuse.
duration: 1d
features:
  - name: support-bot
    rate: 5
    segments:
      prompt_version: {v1: 1.0}
    baseline: {refusal_rate: 0.02}
changes:
  - {id: prompt-v2, at: 10h, feature: support-bot, kind: prompt, previous_version: v1,
     version: v2, rollout: 0.5}
  - {id: flag-dark-mode, at: 8h, feature: support-bot, kind: flag, version: "on"}
faults:
  - {kind: refusal, feature: support-bot, onset: 10h, duration: 6h, ramp: 5m,
     where: {prompt_version: v2}, refusal_rate: 0.12}
expected:
  incident_type: quality
  severity: P1-P2
  containment_level: fallback
  root_cause_change: prompt-v2
  affected_segment: {prompt_version: v2}
"""
QUIET = """\
name: quiet
features: [{name: support-bot, rate: 1}]
"""
#: type, severity, level, strategy, root cause, playbook, first steps.
RIGHT = ["2", "P1", "3", "rollback", "2", "quality-regression", "2, 5"]


def scripted(answers: list[str]) -> tuple[Callable[[str], str], list[str]]:
    """A person who gives `answers` in turn; the prompts they were asked are recorded."""
    asked: list[str] = []
    remaining = iter(answers)

    def read(prompt: str) -> str:
        asked.append(prompt)
        for answer in remaining:
            return answer
        raise EOFError  # as `input` does at the end of its input

    return read, asked


def run(tmp_path: Path, text: str, answers: list[str], **kwargs: object) -> tuple[int, str]:
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    console = Console(record=True, width=160)
    read, _ = scripted(answers)
    code = tabletop(str(path), console=console, read=read, **kwargs)  # type: ignore[arg-type]
    return code, console.export_text()


def test_the_responder_sees_the_signal_the_segment_and_the_deploys(tmp_path: Path) -> None:
    code, shown = run(tmp_path, SCENARIO, RIGHT)
    assert code == 0
    assert "refusal rate 2.0% → 12.0%, from 10:00 (simulated)" in shown
    assert "prompt_version v2 (about 50% of its traffic)" in shown
    assert "prompt v1 → v2 on support-bot (50% of traffic)" in shown
    assert "flag-dark-mode" in shown
    assert "What happened: Prompt v2 makes the bot refuse." in shown


def test_right_decisions_score_every_row_and_are_recorded_as_json(tmp_path: Path) -> None:
    record = tmp_path / "decisions.json"
    code, shown = run(tmp_path, SCENARIO, RIGHT, record=record)
    result = json.loads(record.read_text())
    assert code == 0
    assert "7 of 7 decisions as expected" in shown
    assert result["playbook"] == "quality-regression"
    assert result["decisions"] == {
        "incident_type": "quality",
        "severity": "P1",
        "containment_level": 3,
        "strategy": "rollback",
        "root_cause_change": "prompt-v2",
        "playbook": "quality-regression",
        "first_steps": ["propose-fallback", "roll-back-change"],
    }
    assert result["score"] == {"correct": 7, "total": 7}


def test_wrong_decisions_are_compared_with_the_scenario_and_the_playbook(tmp_path: Path) -> None:
    record = tmp_path / "decisions.json"
    wrong = ["availability", "P0", "5", "kill_switch", "1", "provider-outage", "0"]
    code, shown = run(tmp_path, SCENARIO, wrong, record=record)
    rows = {r["decision"]: r for r in json.loads(record.read_text())["comparison"]}
    assert code == 0
    assert "0 of 7 decisions as expected" in shown
    assert rows["severity"]["expected"] == "P1-P2"
    assert rows["containment level"]["expected"] == "3"
    assert rows["root cause"] == {
        "decision": "root cause",
        "answer": "flag-dark-mode",
        "expected": "prompt-v2",
        "source": "scenario",
        "correct": False,
    }
    assert rows["strategy"]["source"] == "playbook quality-regression"
    assert rows["first steps"]["expected"] == "propose-fallback, roll-back-change"


def test_bad_answers_are_asked_again_until_they_are_usable(tmp_path: Path) -> None:
    answers = ["9", "", "quality", "P7", "P2", "-1", "3", "4", "fix", "monitor", "1", "x", "11"]
    code, shown = run(tmp_path, SCENARIO, [*answers, "1,99", "two", "0"])
    assert code == 0
    assert shown.count("answer with a number from 1 to 6") == 2
    assert "answer with a number from 0 to 5" in shown
    assert shown.count("answer with numbers from 1 to 11, or 0 for none") == 2


def test_the_end_of_input_stops_the_session_without_a_record(tmp_path: Path) -> None:
    record = tmp_path / "decisions.json"
    code, shown = run(tmp_path, SCENARIO, ["2", "P1"], record=record)
    assert code == 1
    assert "stopped before the end" in shown
    assert not record.exists()


def test_a_fault_free_day_is_answered_with_no_incident(tmp_path: Path) -> None:
    code, shown = run(tmp_path, QUIET, ["6"])
    assert code == 0
    assert "every signal stays at its baseline" in shown
    assert "1 of 1 decisions as expected" in shown


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        ("no-such-scenario", "no such scenario file or bundled scenario"),
        ("{tmp}/broken.yaml", "broken.yaml:2: features: List should have at least 1 item"),
    ],
)
def test_an_unknown_or_invalid_scenario_is_a_clear_error_and_exit_code_2(
    tmp_path: Path, scenario: str, message: str
) -> None:
    (tmp_path / "broken.yaml").write_text("name: broken\nfeatures: []\n")
    console = Console(record=True, width=200)
    read, asked = scripted([])
    code = tabletop(scenario.format(tmp=tmp_path), console=console, read=read)
    assert code == 2
    assert message in console.export_text()
    assert asked == []
