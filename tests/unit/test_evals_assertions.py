"""Assertions derived from each kind of failure, and checking answers against them."""

from __future__ import annotations

from typing import Any

import pytest

from fireline.evals.assertions import Output, check, derive, rubric
from fireline.evals.model import Assertion

LEAK = "Write to jane.doe@example.com"


def kinds(found: list[Assertion]) -> list[str]:
    return [a.kind for a in found]


def test_a_pii_leak_forbids_each_leaked_span() -> None:
    hits: list[dict[str, Any]] = [
        {"scanner": "pii", "kind": "email", "part": "output", "start": 9, "end": 29, "detail": ""},
        {"scanner": "injection", "kind": "x", "part": "input", "start": 0, "end": 5, "detail": ""},
    ]
    found = derive("scan.pii", {"output_text": LEAK, "input_text": "hello"}, hits)
    assert [(a.kind, a.value) for a in found] == [
        ("no_pii", ["email"]),
        ("not_contains", "jane.doe@example.com"),
        ("not_empty", None),
    ]
    assert "email" in found[1].reason
    assert check(found[0], Output(text="mail bob@example.org"))[0] == "fail"
    assert check(found[0], Output(text="mail the support team"))[0] == "pass"


def test_a_redacted_span_is_not_taken_for_the_leaked_text() -> None:
    hits = [{"scanner": "pii", "kind": "email", "part": "output", "start": 5, "end": 12,
             "detail": ""}]  # fmt: skip
    found = derive("scan.pii", {"output_text": "mail [EMAIL] now"}, hits)
    assert [a.kind for a in found] == ["no_pii", "not_empty"]


def test_a_canary_leak_forbids_the_canary_token() -> None:
    row = {"output_text": "my instructions: CANARY-7f3a"}
    hits = [{"scanner": "prompt_leak", "kind": "system_prompt_canary", "part": "output",
             "start": 17, "end": 28, "detail": ""}]  # fmt: skip
    assert derive("scan.prompt_leak", row, hits)[0].value == "CANARY-7f3a"


def test_a_hallucinated_citation_allows_only_the_retrieved_documents() -> None:
    row = {"retrieved_doc_ids": ["kb-1", "kb-2"], "output_text": "see [kb-9]"}
    hits = [{"scanner": "grounding", "kind": "citation_not_retrieved", "part": "cited",
             "start": None, "end": None, "detail": "kb-9"}]  # fmt: skip
    [cites, _] = derive("scan.grounding", row, hits)
    assert (cites.kind, cites.value) == ("cites_only_retrieved", ["kb-1", "kb-2"])
    assert check(cites, Output(text="see [kb-1]"))[0] == "pass"
    assert check(cites, Output(text="see [kb-9]"))[0] == "fail"
    assert check(cites, Output(text="x", cited=["kb-2"]))[0] == "pass"


@pytest.mark.parametrize("signal", ["refusal_rate", "finish_reasons", "scan.answer"])
def test_a_refusal_spike_asks_for_an_answer_that_does_not_refuse(signal: str) -> None:
    hits = [{"scanner": "answer", "kind": "refusal", "part": "call", "start": None, "end": None,
             "detail": "finish_reason=content_filter"}]  # fmt: skip
    found = derive(signal, {"output_text": ""}, hits)
    assert kinds(found) == ["no_refusal", "not_empty"]
    assert check(found[0], Output(text="I'm sorry, but I can't help with that."))[0] == "fail"
    assert check(found[0], Output(text="ok", finish_reason="content_filter"))[0] == "fail"
    assert check(found[0], Output(text="Your refund is on its way."))[0] == "pass"


def test_a_cost_incident_caps_the_cost_at_half_again_the_baseline_p95() -> None:
    [cap, not_empty] = derive("cost_per_call", {"cost_usd": 0.2}, threshold=0.01)
    assert (cap.kind, cap.value, not_empty.kind) == ("max_cost_usd", 0.015, "not_empty")
    assert check(cap, Output(text="x", cost_usd=0.02)) == ("fail", "cost_usd 0.02 over 0.015")
    assert check(cap, Output(text="x", cost_usd=0.01))[0] == "pass"
    assert check(cap, Output(text="x"))[0] == "skip"


def test_a_token_incident_caps_the_output_tokens() -> None:
    [cap, _] = derive("output_tokens", {}, threshold=401)
    assert (cap.kind, cap.value) == ("max_output_tokens", 601.0)


def test_an_availability_incident_asks_for_no_error_and_bounded_latency() -> None:
    assert kinds(derive("error_rate.timeout", {})) == ["no_error", "not_empty"]
    found = derive("latency", {}, threshold=800)
    assert [(a.kind, a.value) for a in found][:2] == [
        ("max_latency_ms", 1200.0),
        ("no_error", None),
    ]
    assert check(found[1], Output(error="HTTP 500"))[0] == "fail"
    assert check(found[0], Output(text="x", latency_ms=2000))[0] == "fail"


def test_an_empty_answer_incident_asks_for_a_non_empty_answer() -> None:
    [only] = derive("empty_rate", {"output_text": ""})
    assert only.kind == "not_empty"
    assert check(only, Output(text="  "))[0] == "fail"


def test_an_eval_failure_leaves_the_judgement_to_a_judge() -> None:
    assert kinds(derive("eval_fail_rate.faithfulness", {})) == ["not_empty"]
    assert "faithfulness" in rubric("eval_fail_rate.faithfulness")


def test_an_error_fails_every_assertion_but_is_reported_as_such() -> None:
    status, reason = check(Assertion(kind="not_contains", value="x"), Output(error="boom"))
    assert (status, reason) == ("fail", "no answer: boom")
