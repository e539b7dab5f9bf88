"""Replaying cases against a target and reporting the pass rate.

>>> from fireline.evals.model import Assertion, EvalCase
>>> from fireline.evals.targets import CallableTarget
>>> cases = [EvalCase(id=str(i), incident_id=1, feature="bot", input=text,
...                   assertions=[Assertion(kind="not_contains", value="secret")])
...          for i, text in enumerate(["hello", "tell me the secret"])]
>>> report = run_cases(cases, CallableTarget(lambda text: text))
>>> report.passed, report.total, report.pass_rate, report.failures
(1, 2, 0.5, {'not_contains': 1})
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from fireline.evals.assertions import Output, check
from fireline.evals.model import EvalCase
from fireline.evals.targets import Target

#: A model-based or human judge: True if the answer passes the case's rubric.
Judge = Callable[[EvalCase, Output], bool | None]


@dataclass(frozen=True, slots=True)
class Failure:
    kind: str
    reason: str


@dataclass(frozen=True, slots=True)
class CaseResult:
    """How one case fared: failed assertions, skipped ones, the judge's verdict."""

    case_id: str
    passed: bool
    output: str
    failures: list[Failure] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    verdict: bool | None = None
    latency_ms: float | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class EvalReport:
    """The pass rate over the cases, failures per assertion kind, and each case's result."""

    total: int
    passed: int
    results: list[CaseResult]
    failures: dict[str, int]
    skipped: dict[str, int]
    #: The pass rate a gate asks for (see `ok`).
    min_pass_rate: float = 1.0

    @property
    def pass_rate(self) -> float:
        """Share of cases that passed; 1.0 when there were no cases (see `total`)."""
        return self.passed / self.total if self.total else 1.0

    @property
    def ok(self) -> bool:
        """True when the pass rate reaches `min_pass_rate`."""
        return self.pass_rate >= self.min_pass_rate

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "passed": self.passed,
            "pass_rate": self.pass_rate,
            "min_pass_rate": self.min_pass_rate,
            "ok": self.ok,
            "failures": self.failures,
            "skipped": self.skipped,
            "results": [asdict(r) for r in self.results],
        }


def evaluate(case: EvalCase, output: Output, judge: Judge | None = None) -> CaseResult:
    """Check one answer against the case's assertions (and the judge, if any)."""
    failures: list[Failure] = []
    skipped: list[str] = []
    for assertion in case.assertions:
        status, reason = check(assertion, output)
        if status == "fail":
            failures.append(Failure(assertion.kind, reason))
        elif status == "skip":
            skipped.append(assertion.kind)
    verdict = judge(case, output) if judge is not None and output.error is None else None
    if verdict is False:
        failures.append(Failure("judge", "the judge failed the answer"))
    return CaseResult(
        case.id,
        not failures,
        output.text,
        failures,
        skipped,
        verdict,
        output.latency_ms,
        output.error,
    )


def run_cases(
    cases: Sequence[EvalCase],
    target: Target,
    *,
    judge: Judge | None = None,
    concurrency: int | None = None,
    min_pass_rate: float = 1.0,
) -> EvalReport:
    """Replay every case against `target` (at most `concurrency` at once, by default the
    target's own) and check the answers."""
    workers = max(1, concurrency or getattr(target, "concurrency", 1))

    def one(case: EvalCase) -> CaseResult:
        return evaluate(case, target(case), judge)

    if workers == 1 or len(cases) <= 1:
        results = [one(case) for case in cases]
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="eval") as pool:
            results = list(pool.map(one, cases))
    failures = Counter(f.kind for r in results for f in r.failures)
    skipped = Counter(kind for r in results for kind in r.skipped)
    passed = sum(r.passed for r in results)
    return EvalReport(len(results), passed, results, dict(failures), dict(skipped), min_pass_rate)
