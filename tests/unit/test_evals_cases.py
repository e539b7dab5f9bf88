"""Case files: JSON Lines round trip, line-numbered errors; the runner's pass rate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fireline.errors import InvalidInput
from fireline.evals import (
    Assertion,
    CallableTarget,
    EvalCase,
    Output,
    dump,
    load,
    loads,
    run_cases,
)


def a_case(i: int, **extra: Any) -> EvalCase:
    return EvalCase(
        id=f"c{i}",
        incident_id=7,
        feature="bot",
        input=f"question {i}",
        bad_output="mail jane@example.com",
        assertions=[
            Assertion(kind="not_contains", value="jane@example.com"),
            Assertion(kind="no_refusal"),
            Assertion(kind="max_cost_usd", value=0.01),
        ],
        **extra,
    )


def test_cases_survive_a_round_trip_through_a_jsonl_file(tmp_path: Path) -> None:
    cases = [a_case(i) for i in range(5)]
    path = tmp_path / "cases.jsonl"
    assert dump(cases, path) == 5
    assert len(path.read_text().splitlines()) == 5
    assert load(path) == cases


def test_a_malformed_case_is_reported_with_its_line_number_and_field(tmp_path: Path) -> None:
    good = a_case(1).model_dump_json()
    bad = a_case(2).model_dump_json().replace('"no_refusal"', '"no_such_check"')
    path = tmp_path / "cases.jsonl"
    path.write_text(f"{good}\n\n{bad}\n{{not json\n")
    with pytest.raises(InvalidInput) as raised:
        load(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: line 3, field 'assertions.1.kind'")
    assert any("line 4" in str(p) and "not JSON" in str(p) for p in raised.value.problems)


def test_a_repeated_case_id_is_an_error() -> None:
    line = a_case(1).model_dump_json()
    with pytest.raises(InvalidInput, match="line 2, field 'id': case id 'c1' is repeated"):
        loads(f"{line}\n{line}\n")


def test_the_pass_rate_counts_cases_whose_answers_meet_every_assertion() -> None:
    answers = {
        "question 0": "Your order ships tomorrow.",
        "question 1": "Sure: mail Jane@Example.com",
        "question 2": "I'm sorry, but I can't help with that.",
        "question 3": {"output": "Done.", "cost_usd": 0.5},
    }

    def target(text: str) -> Any:
        if text == "question 4":
            raise TimeoutError("too slow")
        return answers[text]

    report = run_cases([a_case(i) for i in range(5)], CallableTarget(target, concurrency=3))
    assert (report.passed, report.total, report.pass_rate) == (1, 5, 0.2)
    assert report.failures == {"not_contains": 2, "no_refusal": 2, "max_cost_usd": 2}
    assert report.skipped == {"max_cost_usd": 3}
    assert [r.passed for r in report.results] == [True, False, False, False, False]
    assert report.results[4].error == "TimeoutError: too slow"
    assert not report.ok
    assert report.to_dict()["pass_rate"] == 0.2


def test_a_judge_can_fail_an_answer_the_assertions_pass() -> None:
    def judge(case: EvalCase, output: Output) -> bool:
        return "tomorrow" in output.text

    report = run_cases(
        [a_case(0), a_case(1)],
        CallableTarget(lambda text: "tomorrow" if text.endswith("0") else "today"),
        judge=judge,
        min_pass_rate=0.5,
    )
    assert report.failures == {"judge": 1}
    assert [r.verdict for r in report.results] == [True, False]
    assert report.ok


def test_no_cases_pass_vacuously_but_say_so() -> None:
    report = run_cases([], CallableTarget(str))
    assert (report.total, report.pass_rate) == (0, 1.0)
