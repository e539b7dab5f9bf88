"""Regression evals from incidents (issue 8): diverse cases from an incident's affected calls,
with assertions derived from the failure, exported as JSON Lines and replayed against a
target (a Python callable or an OpenAI-compatible endpoint) for a pass rate."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fireline.evals.assertions import Output, check, derive, rubric
from fireline.evals.diversity import deduplicated, diverse, hashing_vectors, normalised
from fireline.evals.extract import Extraction, extract, extract_for
from fireline.evals.jsonl import MEDIA_TYPE, dump, dumps, lines, load, loads
from fireline.evals.model import Assertion, Context, EvalCase, Judgement
from fireline.evals.runner import CaseResult, EvalReport, Judge, run_cases
from fireline.evals.targets import CallableTarget, HttpTarget, Target, load_callable

if TYPE_CHECKING:
    from fireline.runtime import Fireline

__all__ = [
    "MEDIA_TYPE",
    "Assertion",
    "CallableTarget",
    "CaseResult",
    "Context",
    "EvalCase",
    "EvalReport",
    "Extraction",
    "HttpTarget",
    "Judge",
    "Judgement",
    "Output",
    "Target",
    "check",
    "deduplicated",
    "derive",
    "diverse",
    "dump",
    "dumps",
    "extract",
    "extract_for",
    "hashing_vectors",
    "incident_evals_pass",
    "lines",
    "load",
    "load_callable",
    "loads",
    "normalised",
    "rubric",
    "run_cases",
]


def incident_evals_pass(
    instance: Fireline, incident_id: int, target: Target, min_pass_rate: float = 1.0
) -> EvalReport:
    """Replay the incident's eval cases against `target` (before restoring full traffic):
    the report, whose `ok` says whether its `pass_rate` reaches
    `min_pass_rate`. NotFound for an unknown incident."""
    extraction = extract_for(instance, incident_id)
    return run_cases(extraction.cases, target, min_pass_rate=min_pass_rate)
