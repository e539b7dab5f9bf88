"""Which calls show a signal's failure, as SQL over `calls`: detection's own predicates
(`fireline.detect.signals._SAMPLE_BY`), made public here, plus scanner hits and evals."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from fireline.detect.catalog import ERROR_TYPE_RATE, EVAL_FAIL_RATE, EVAL_SCORE, SCAN_RATE
from fireline.detect.config import BUILTIN_SEGMENTS
from fireline.detect.signals import _SAMPLE_BY
from fireline.store.telemetry import CALL_FIELDS

#: For each signal, the calls that show it and the worst first (detection's table).
SAMPLE_BY: Mapping[str, tuple[str, str]] = _SAMPLE_BY
#: Columns of `calls` a segment may name directly; other names are call attributes.
COLUMNS = frozenset(BUILTIN_SEGMENTS) | {
    "provider",
    "operation",
    "request_model",
    "finish_reason",
    "error_type",
    "status",
}
_ATTRIBUTE_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
_DESC = " DESC"


@dataclass(frozen=True, slots=True)
class SignalPredicate:
    """How a signal reads per call: a failure rate (`where` is the failure) or a metric
    (`metric`, whose worst values, beyond the baseline's tail, count as failures)."""

    signal: str
    kind: Literal["rate", "metric"]
    where: str
    metric: str | None = None
    direction: int = 1
    params: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""


def predicate(signal: str, *, feature: str, eval_pass: float = 0.5) -> SignalPredicate:
    """The per-call reading of `signal` on `feature`'s calls.

    >>> predicate("error_rate", feature="bot").where
    "status = 'error'"
    >>> p = predicate("latency", feature="bot")
    >>> p.kind, p.metric
    ('metric', 'latency_ms')
    >>> predicate("scan.pii", feature="bot").params["scanner"]
    'pii'
    """
    if signal.startswith(ERROR_TYPE_RATE):
        where = SAMPLE_BY[ERROR_TYPE_RATE][0]
        return SignalPredicate(
            signal, "rate", where, params={"kind": signal[len(ERROR_TYPE_RATE) :]}
        )
    if signal.startswith(SCAN_RATE):
        where = (
            "call_id IN (SELECT call_id FROM scan_hits WHERE scanner = $scanner "
            "AND feature = $feature)"
        )
        scanner = {"scanner": signal[len(SCAN_RATE) :], "feature": feature}
        return SignalPredicate(signal, "rate", where, params=scanner)
    if signal.startswith(EVAL_FAIL_RATE):
        where = "map_extract(eval_scores, $eval)[1] < $pass"
        params: dict[str, Any] = {"eval": signal[len(EVAL_FAIL_RATE) :], "pass": eval_pass}
        return SignalPredicate(signal, "rate", where, params=params)
    if signal.startswith(EVAL_SCORE):
        metric = "map_extract(eval_scores, $eval)[1]"
        params = {"eval": signal[len(EVAL_SCORE) :]}
        return SignalPredicate(
            signal, "metric", f"{metric} IS NOT NULL", metric, direction=-1, params=params
        )
    if signal in SAMPLE_BY:
        where, order = SAMPLE_BY[signal]
        if order.endswith(_DESC):
            return SignalPredicate(signal, "metric", where, order.removesuffix(_DESC))
        return SignalPredicate(signal, "rate", where)
    return SignalPredicate(
        signal,
        "rate",
        "status = 'error'",
        note=f"signal {signal!r} has no per-call reading; failed calls stand in for it",
    )


def segment_condition(segment: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    """SQL restricting calls to a segment ({"tenant": "acme"}), and its parameters.

    >>> segment_condition({"tenant": "acme"})
    ('tenant = $seg_0', {'seg_0': 'acme'})
    >>> segment_condition({})
    ('TRUE', {})
    """
    parts: list[str] = []
    params: dict[str, Any] = {}
    for i, (dimension, value) in enumerate(sorted(segment.items())):
        params[f"seg_{i}"] = value
        if dimension in COLUMNS and dimension in CALL_FIELDS:
            parts.append(f"{dimension} = $seg_{i}")
        elif _ATTRIBUTE_KEY.match(dimension):
            params[f"seg_path_{i}"] = f'$."{dimension}"'
            parts.append(f"json_extract_string(attributes, $seg_path_{i}) = $seg_{i}")
        else:
            parts.append("FALSE")
    return " AND ".join(parts) or "TRUE", params


def segment_label(segment: Mapping[str, str]) -> str:
    """A segment as people read it after a signal's name, with a leading space.

    >>> segment_label({"tenant": "acme", "locale": "de"}), segment_label({})
    (' locale=de tenant=acme', '')
    """
    return "".join(f" {k}={v}" for k, v in sorted(segment.items()))


def why(found: SignalPredicate, threshold: float | None = None) -> str:
    """Why a call counts as affected, for exports.

    >>> why(predicate("error_rate", feature="bot"))
    'error_rate: status = error'
    """
    if found.signal.startswith(SCAN_RATE):
        return f"{found.signal}: hit by the {found.params.get('scanner')} scanner"
    if found.kind == "metric":
        side = ">" if found.direction > 0 else "<"
        return f"{found.signal}: {found.metric} {side} {threshold:g} (baseline tail)"
    return f"{found.signal}: " + found.where.replace("'", "").replace(
        "$kind", str(found.params.get("kind", ""))
    )
