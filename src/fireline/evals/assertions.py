"""Code-based assertions: which ones a failure calls for, and checking an answer against them.

>>> [a.kind for a in derive("refusal_rate", {"output_text": "I can't help with that."})]
['no_refusal', 'not_empty']
>>> found = derive("scan.pii", {"output_text": "Call 555-0100 now"},
...                hits=[{"scanner": "pii", "kind": "phone", "part": "output",
...                       "start": 5, "end": 13, "detail": ""}])
>>> [(a.kind, a.value) for a in found]
[('no_pii', ['phone']), ('not_contains', '555-0100'), ('not_empty', None)]
>>> check(found[1], Output(text="Call support."))
('pass', '')
>>> check(found[1], Output(text="call 555-0100"))
('fail', 'contains the leaked pattern')
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from fireline.detect.catalog import ERROR_TYPE_RATE, EVAL_FAIL_RATE, EVAL_SCORE, SCAN_RATE
from fireline.evals.model import Assertion
from fireline.scan.answers import REFUSAL_OPENINGS, REFUSAL_REASONS

#: A metric limit is the baseline's tail (p95) times this.
HEADROOM = 1.5
_REFUSAL = re.compile("|".join(f"(?:{p})" for p in REFUSAL_OPENINGS), re.I)
_OPENING = 200
#: What stored text holds where personal data was redacted at ingest ("[EMAIL]").
_PLACEHOLDER = re.compile(r"^\[[A-Z_]+\]$")
_CITATION = re.compile(r"\[([A-Za-z0-9][A-Za-z0-9_.:/-]{0,127})\]")
_LIMITS = {
    "latency": "max_latency_ms",
    "latency_p99": "max_latency_ms",
    "time_to_first_token": "max_latency_ms",
    "cost_per_call": "max_cost_usd",
    "cost_per_hour": "max_cost_usd",
    "output_tokens": "max_output_tokens",
    "output_length": "max_output_tokens",
}
_RUBRICS = {
    "thumbs_down_rate": "Would the user be satisfied with this answer (no thumbs down)?",
    "regenerate_rate": "Does the answer meet the request so the user need not regenerate it?",
    "input_length": "Does the answer handle this (long) input correctly?",
}
Status = Literal["pass", "fail", "skip"]


@dataclass(frozen=True, slots=True)
class Output:
    """A target's answer to a case, with what it reported about it."""

    text: str = ""
    cited: Sequence[str] | None = None
    cost_usd: float | None = None
    output_tokens: int | None = None
    latency_ms: float | None = None
    finish_reason: str | None = None
    error: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def _leaked(row: Mapping[str, Any], hit: Mapping[str, Any]) -> str | None:
    """The text a hit points at (a span of the input or output), or a cited document id."""
    text = {"output": row.get("output_text"), "input": row.get("input_text")}.get(hit["part"])
    start, end = hit.get("start"), hit.get("end")
    if isinstance(text, str) and start is not None and end is not None and end > start:
        span = text[int(start) : int(end)].strip()
        return None if _PLACEHOLDER.match(span) else span or None
    if hit["part"] == "cited" and hit.get("detail"):
        return str(hit["detail"])
    return None


def derive(
    signal: str,
    row: Mapping[str, Any],
    hits: Sequence[Mapping[str, Any]] = (),
    threshold: float | None = None,
) -> list[Assertion]:
    """The assertions an affected call's failure calls for: `signal` is the alert's, `row`
    the call (input_text, output_text, retrieved_doc_ids, ...), `hits` its scanner hits
    (scanner, kind, part, start, end, detail) and `threshold` the baseline tail of a metric.
    """
    found: list[Assertion] = []
    if signal.startswith(SCAN_RATE):
        scanner = signal[len(SCAN_RATE) :]
        ours = [h for h in hits if h["scanner"] == scanner]
        kinds = {h["kind"] for h in ours}
        if "refusal" in kinds or (scanner == "answer" and not kinds):
            found.append(Assertion(kind="no_refusal", reason=f"{signal}: refusal"))
        if scanner == "grounding" or kinds & {"citation_not_retrieved", "citation_unknown"}:
            allowed = [str(d) for d in row.get("retrieved_doc_ids") or ()]
            found.append(
                Assertion(kind="cites_only_retrieved", value=allowed, reason=f"{signal}: citation")
            )
        patterns = {p for h in ours if h["kind"] != "refusal" for p in [_leaked(row, h)] if p}
        if scanner == "grounding":
            patterns = set()
        redacted = sorted({h["kind"] for h in ours if h["part"] == "output"} - {"refusal"})
        if scanner == "pii" and redacted:
            reason = f"{signal}: leaked {', '.join(redacted)} (redacted in the store)"
            found.append(Assertion(kind="no_pii", value=redacted, reason=reason))
        for pattern in sorted(patterns):
            kinds_of = sorted({h["kind"] for h in ours if _leaked(row, h) == pattern})
            reason = f"{signal}: leaked {', '.join(kinds_of)}"
            found.append(Assertion(kind="not_contains", value=pattern, reason=reason))
    elif signal in ("refusal_rate", "finish_reasons"):
        found.append(Assertion(kind="no_refusal", reason=f"{signal}: refusal or cut-off"))
    elif signal.startswith(ERROR_TYPE_RATE) or signal in ("error_rate", "error_types"):
        found.append(Assertion(kind="no_error", reason=f"{signal}: the call failed"))
    elif signal in _LIMITS:
        kind = _LIMITS[signal]
        if threshold is not None and threshold > 0:
            limit = round(threshold * HEADROOM, 6)
            if kind == "max_output_tokens":
                limit = float(int(limit))
            reason = f"{signal}: baseline p95 {threshold:g} x {HEADROOM}"
            found.append(Assertion(kind=kind, value=limit, reason=reason))
        if kind == "max_latency_ms":
            found.append(Assertion(kind="no_error", reason=f"{signal}: availability"))
    if signal != "empty_rate" and not any(a.kind == "not_empty" for a in found):
        found.append(Assertion(kind="not_empty", reason="an answer is expected"))
    elif signal == "empty_rate":
        found.append(Assertion(kind="not_empty", reason=f"{signal}: empty answer"))
    return found


def rubric(signal: str) -> str:
    """What a model or human judge is asked about a replayed answer.

    >>> rubric("eval_fail_rate.faithfulness")
    "Does the answer pass the 'faithfulness' evaluation it failed in the incident?"
    """
    if signal.startswith((EVAL_FAIL_RATE, EVAL_SCORE)):
        name = signal.partition(".")[2]
        return f"Does the answer pass the {name!r} evaluation it failed in the incident?"
    if signal in _RUBRICS:
        return _RUBRICS[signal]
    return (
        f"Is the answer correct, helpful and free of the failure seen in the incident ({signal})?"
    )


def cited(output: Output) -> list[str]:
    """The document ids an answer cites: reported ones, else `[doc-id]` marks in its text.

    >>> cited(Output(text="See [kb-1] and [kb-2]."))
    ['kb-1', 'kb-2']
    """
    if output.cited is not None:
        return [str(c) for c in output.cited]
    return list(dict.fromkeys(_CITATION.findall(output.text)))


def is_refusal(output: Output) -> bool:
    """True for an answer that declines: by finish reason or by its opening words."""
    if output.finish_reason in REFUSAL_REASONS:
        return True
    return bool(_REFUSAL.search(output.text[:_OPENING].replace("\u2019", "'")))


def check(assertion: Assertion, output: Output) -> tuple[Status, str]:
    """Whether `output` satisfies `assertion`, and why not ("skip": nothing to check it by,
    like a cost the target did not report)."""
    kind, value = assertion.kind, assertion.value
    if kind == "no_error":
        return ("fail", f"error: {output.error}") if output.error else ("pass", "")
    if output.error is not None:
        return "fail", f"no answer: {output.error}"
    if kind == "not_contains":
        found = str(value).casefold() in output.text.casefold()
        return ("fail", "contains the leaked pattern") if found else ("pass", "")
    if kind == "no_pii":
        leaked = _pii_kinds(output.text) & set(value if isinstance(value, list) else [])
        return ("fail", f"contains {', '.join(sorted(leaked))}") if leaked else ("pass", "")
    if kind == "no_refusal":
        return ("fail", "the answer is a refusal") if is_refusal(output) else ("pass", "")
    if kind == "not_empty":
        return ("pass", "") if output.text.strip() else ("fail", "the answer is empty")
    if kind == "cites_only_retrieved":
        allowed = set(value) if isinstance(value, list) else set()
        extra = [c for c in cited(output) if c not in allowed]
        return ("fail", f"cites documents not retrieved: {extra}") if extra else ("pass", "")
    measured = {
        "max_cost_usd": output.cost_usd,
        "max_output_tokens": output.output_tokens,
        "max_latency_ms": output.latency_ms,
    }[kind]
    if measured is None or not isinstance(value, int | float):
        return "skip", f"the target did not report what {kind} limits"
    if measured > value:
        return "fail", f"{kind.removeprefix('max_')} {measured:g} over {value:g}"
    return "pass", ""


def _pii_kinds(text: str) -> set[str]:
    """The kinds of personal data the PII scanner finds in `text`."""
    from fireline.scan.pii import PiiFinder

    return {span.kind for span in PiiFinder().find(text)}
