"""The signals fireline computes from telemetry, and how each is watched by default."""

from __future__ import annotations

import math
from dataclasses import dataclass

from fireline.detect.base import Direction, SignalKind
from fireline.domain.incident import IncidentType

#: Prefixes of the signals made per eval name found in calls' eval_scores, and per error type.
EVAL_SCORE = "eval."
EVAL_FAIL_RATE = "eval_fail_rate."
ERROR_TYPE_RATE = "error_rate."
#: Prefix of the share of scanned calls in which a content scanner found something.
SCAN_RATE = "scan."
#: The harm each scanner's hits are evidence of (others: quality).
SCANNER_INCIDENT_TYPES = {
    "pii": IncidentType.SAFETY,
    "tenant_leak": IncidentType.SAFETY,
    "prompt_leak": IncidentType.SAFETY,
    "injection": IncidentType.SAFETY,
    "reputation": IncidentType.REPUTATION,
}


@dataclass(frozen=True, slots=True)
class Signal:
    """One signal: what it measures, its kind, and its default watch."""

    name: str
    kind: SignalKind
    incident_type: IncidentType
    direction: Direction
    detectors: tuple[str, ...]
    description: str
    #: Computed per segment too (rates, means, counts), or only for the whole feature.
    per_segment: bool = True
    #: Means of skewed quantities are taken over log(1 + x); evidence is turned back.
    log_scale: bool = False
    #: Watched only when switched on (it needs an optional extra, or a budget).
    opt_in: bool = False
    #: A rate of hits among all calls, stored only where hits happened: a bucket without
    #: a window had calls (its volume) and no hit, not no data.
    of_all_calls: bool = False

    def natural(self, value: float | None) -> float | None:
        """A value of the signal in its own units (undoing the log scale)."""
        if value is None or not self.log_scale:
            return value
        return math.expm1(value)


_A, _Q, _E = IncidentType.AVAILABILITY, IncidentType.QUALITY, IncidentType.ECONOMIC
_UP, _DOWN, _BOTH = Direction.UP, Direction.DOWN, Direction.BOTH
_RATE, _MEAN, _COUNT, _LEVEL = SignalKind.RATE, SignalKind.MEAN, SignalKind.COUNT, SignalKind.LEVEL
_BERNOULLI, _GAUSSIAN = ("cusum_bernoulli",), ("cusum_gaussian",)

SIGNALS: dict[str, Signal] = {
    s.name: s
    for s in (
        Signal("volume", _COUNT, _A, _BOTH, ("cusum_poisson",), "calls per bucket"),
        Signal("error_rate", _RATE, _A, _UP, _BERNOULLI, "share of calls that failed"),
        Signal("latency", _MEAN, _A, _UP, _GAUSSIAN, "latency (ms), geometric", log_scale=True),
        Signal("latency_p99", _LEVEL, _A, _UP, ("budget",), "p99 latency (ms)", opt_in=True),
        Signal("time_to_first_token", _MEAN, _A, _UP, _GAUSSIAN, "TTFT (ms)", log_scale=True),
        Signal("input_tokens", _MEAN, _E, _UP, _GAUSSIAN, "input tokens per call", log_scale=True),
        Signal(
            "output_tokens", _MEAN, _E, _BOTH, _GAUSSIAN, "output tokens per call", log_scale=True
        ),
        Signal(
            "cost_per_call", _MEAN, _E, _UP, _GAUSSIAN, "cost per call (micro-USD)", log_scale=True
        ),
        Signal("cost_per_hour", _LEVEL, _E, _UP, ("budget",), "USD per hour", opt_in=True),
        Signal(
            "calls_per_session",
            _MEAN,
            _E,
            _UP,
            _GAUSSIAN,
            "calls per session or trace (runaway agent loops)",
            per_segment=False,
        ),
        Signal(
            "max_calls_per_session",
            _LEVEL,
            _E,
            _UP,
            ("budget",),
            "most calls of one session or trace in a bucket",
            per_segment=False,
            opt_in=True,
        ),
        Signal("refusal_rate", _RATE, _Q, _UP, _BERNOULLI, "share of answers refused"),
        Signal("empty_rate", _RATE, _Q, _UP, _BERNOULLI, "share of answers empty"),
        Signal("thumbs_down_rate", _RATE, _Q, _UP, _BERNOULLI, "thumbs down of thumbs given"),
        Signal(
            "regenerate_rate",
            _RATE,
            _Q,
            _UP,
            _BERNOULLI,
            "regenerations per call",
            of_all_calls=True,
        ),
        Signal("edit_distance", _MEAN, _Q, _UP, _GAUSSIAN, "users' edits to answers"),
        Signal(
            "output_length",
            SignalKind.NUMERIC,
            _Q,
            _BOTH,
            ("ks_drift",),
            "distribution of answer lengths (tokens)",
            per_segment=False,
        ),
        Signal(
            "input_length",
            SignalKind.NUMERIC,
            _Q,
            _BOTH,
            ("ks_drift",),
            "distribution of prompt lengths (characters)",
            per_segment=False,
        ),
        Signal(
            "finish_reasons",
            SignalKind.CATEGORICAL,
            _Q,
            _BOTH,
            ("chi_square_drift",),
            "mix of finish reasons",
            per_segment=False,
        ),
        Signal(
            "error_types",
            SignalKind.CATEGORICAL,
            _A,
            _BOTH,
            ("chi_square_drift",),
            "mix of error types among failed calls",
            per_segment=False,
        ),
        Signal(
            "input_text",
            SignalKind.TEXT,
            _Q,
            _BOTH,
            ("mmd_embedding_drift",),
            "meaning of prompts (sentence embeddings)",
            per_segment=False,
            opt_in=True,
        ),
    )
}


def signal_named(name: str) -> Signal | None:
    """A signal of the catalogue, or one made for an eval (`eval.<name>`,
    `eval_fail_rate.<name>`), an error type (`error_rate.<type>`) or a content scanner
    (`scan.<scanner>`)."""
    if name in SIGNALS:
        return SIGNALS[name]
    if name.startswith(EVAL_SCORE) and len(name) > len(EVAL_SCORE):
        return Signal(name, _MEAN, _Q, _DOWN, _GAUSSIAN, f"mean {name[len(EVAL_SCORE) :]} score")
    if name.startswith(ERROR_TYPE_RATE) and len(name) > len(ERROR_TYPE_RATE):
        kind = name[len(ERROR_TYPE_RATE) :]
        return Signal(
            name,
            _RATE,
            _A,
            _UP,
            _BERNOULLI,
            f"share of calls failing with {kind}",
            of_all_calls=True,
        )
    if name.startswith(SCAN_RATE) and len(name) > len(SCAN_RATE):
        scanner = name[len(SCAN_RATE) :]
        return Signal(
            name,
            _RATE,
            SCANNER_INCIDENT_TYPES.get(scanner, _Q),
            _UP,
            _BERNOULLI,
            f"share of scanned calls with {scanner} hits",
        )
    if name.startswith(EVAL_FAIL_RATE) and len(name) > len(EVAL_FAIL_RATE):
        evaluation = name[len(EVAL_FAIL_RATE) :]
        return Signal(name, _RATE, _Q, _UP, _BERNOULLI, f"share of calls failing {evaluation}")
    return None
