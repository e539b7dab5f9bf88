"""Calls, feedback and changes generated from a scenario: seeded, vectorised, chunk-invariant.

Every random number of a call is a hash of (seed, feature, minute, the call's draw index in
its minute, what it is for), so the calls of any stretch of time are the same whether it is
generated at once or in pieces. Arrivals are Poisson per minute at the rate of the daily
cycle; each minute's count comes from a generator seeded with (seed, feature, minute).
"""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from fireline.domain.telemetry import Change, Feedback, FeedbackKind
from fireline.drill.generator_batch import Batch, Columns
from fireline.drill.generator_faults import Effects, segments
from fireline.drill.spec import Feature, ScenarioSpec

Floats = NDArray[np.float64]
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_GOLDEN = 0x9E3779B97F4A7C15
_US = 1_000_000
#: Extra thumbs-down chance of a refused, empty, wrongly cited or leaking answer.
BAD_ANSWER_THUMBS_DOWN = 0.25


def _mix(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """splitmix64's finaliser: a bijection of 64-bit integers that scrambles every bit."""
    x = x ^ (x >> np.uint64(30))
    x *= _M1
    x ^= x >> np.uint64(27)
    x *= _M2
    x ^= x >> np.uint64(31)
    return x


class _Draws:
    """Uniform numbers in [0, 1) per call, one independent stream per purpose."""

    def __init__(self, key: int, minute: NDArray[np.int64], seq: NDArray[np.int64]) -> None:
        counter = (minute.astype(np.uint64) << np.uint64(24)) | seq.astype(np.uint64)
        self._base = _mix(counter ^ np.uint64(key))

    def __call__(self, stream: int | str) -> Floats:
        if isinstance(stream, str):
            stream = zlib.crc32(stream.encode()) + 1000
        h = _mix(self._base + np.uint64((stream * _GOLDEN) % 2**64))
        return (h >> np.uint64(11)).astype(np.float64) * 2.0**-53

    def normal(self, stream: str) -> Floats:
        u1, u2 = self(stream + ".1"), self(stream + ".2")
        return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2 * np.pi * u2)


def generate(
    spec: ScenarioSpec, seed: int, start: datetime | None = None, end: datetime | None = None
) -> Batch:
    """The calls in [start, end) (by default the whole scenario), their feedback, and the
    changes deployed in it. The same seed always gives the same batch."""
    lo = max(start or spec.start, spec.start)
    hi = min(end or spec.end, spec.end)
    lo_us, hi_us = _epoch_us(lo), _epoch_us(hi)
    parts = [_feature(spec, i, seed, lo_us, hi_us) for i in range(len(spec.features))]
    dimensions = tuple(dict.fromkeys(d for p in parts for d in p if d.startswith("seg:")))
    columns: Columns = {}
    for name in parts[0] if parts else ():
        if not name.startswith("seg:"):
            columns[name] = np.concatenate([p[name] for p in parts])
    for name in dimensions:
        columns[name[4:]] = np.concatenate(
            [p.get(name, np.full(len(p["time_us"]), None, dtype=object)) for p in parts]
        )
    order = np.argsort(columns.pop("time_us"), kind="stable")
    columns = {name: values[order] for name, values in columns.items()}
    feedback = _feedback(columns)
    changes = [
        Change(
            change_id=c.id,
            time=spec.start + timedelta(seconds=c.at),
            kind=c.kind,
            version=c.version,
            feature=c.feature,
            previous_version=c.previous_version,
            description=c.description,
        )
        for c in spec.changes
        if lo <= spec.start + timedelta(seconds=c.at) < hi
    ]
    return Batch(columns, tuple(d[4:] for d in dimensions), feedback, changes)


def _epoch_us(when: datetime) -> int:
    return round(when.timestamp() * _US)


def _feature(spec: ScenarioSpec, index: int, seed: int, lo_us: int, hi_us: int) -> Columns:
    feature = spec.features[index]
    # Scenarios draw apart: the same seed must not replay one scenario's luck in another.
    stream = zlib.crc32(f"{spec.name}\x00{feature.name}".encode())
    start_us, end_us = _epoch_us(spec.start), _epoch_us(spec.end)
    minutes = np.arange((lo_us - start_us) // (60 * _US), -(-(hi_us - start_us) // (60 * _US)))
    first_us = start_us + minutes * 60 * _US
    span_us = np.minimum(60 * _US, end_us - first_us)
    hours = ((first_us + span_us // 2) / _US % 86_400) / 3600
    cycle = 1 + feature.daily_amplitude * np.cos(2 * np.pi * (hours - feature.peak_hour) / 24)
    means = feature.rate * cycle * span_us / _US
    counts = np.array(
        [
            np.random.default_rng([seed, index, m, stream]).poisson(lam)
            for m, lam in zip(minutes.tolist(), means.tolist(), strict=True)
        ],
        dtype=np.int64,
    )
    minute = np.repeat(minutes, counts)
    seq = np.arange(len(minute)) - np.repeat(np.cumsum(counts) - counts, counts)
    key = int(np.random.SeedSequence([seed, index, stream]).generate_state(1, np.uint64)[0])
    draws = _Draws(key, minute, seq)
    t_us = np.repeat(first_us, counts) + (draws("time") * np.repeat(span_us, counts)).astype(
        np.int64
    )
    order = np.argsort(t_us, kind="stable")
    t_us, minute, seq = t_us[order], minute[order], seq[order]
    # A call's numbers hang on its draw index; its id on its rank in the minute by time.
    rank = np.arange(len(minute)) - np.searchsorted(minute, minute)
    keep = (t_us >= lo_us) & (t_us < hi_us)
    t_us, minute, seq, rank = t_us[keep], minute[keep], seq[keep], rank[keep]
    draws = _Draws(key, minute, seq)
    return _calls(spec, feature, draws, t_us - start_us, t_us, minute, rank)


def _calls(
    spec: ScenarioSpec,
    feature: Feature,
    draws: _Draws,
    offset_us: NDArray[np.int64],
    t_us: NDArray[np.int64],
    minute: NDArray[np.int64],
    rank: NDArray[np.int64],
) -> Columns:
    n, b = len(t_us), feature.baseline
    codes, names = segments(spec, feature, draws, offset_us)
    fx = Effects.of(spec, feature, draws, offset_us, codes, names, n)
    failed = draws("failed") < fx.error_rate
    error_type = fx.error_types(draws("error_type"))
    error_type[~failed] = None
    latency = b.latency.median_ms * np.exp(b.latency.spread * draws.normal("latency"))
    spread = b.tokens.spread
    input_tokens = b.tokens.input * np.exp(spread * draws.normal("input")) * fx.input_factor
    output_tokens = b.tokens.output * np.exp(spread * draws.normal("output")) * fx.output_factor
    answered = ~failed
    refused = answered & (draws("refused") < fx.refusal_rate)
    empty = answered & ~refused & (draws("empty") < b.empty_rate)
    output = np.where(failed | empty, 0, np.maximum(1, np.rint(output_tokens))).astype(np.int64)
    output = np.where(refused, np.minimum(output, 20), output)
    inputs = np.maximum(1, np.rint(input_tokens)).astype(np.int64)
    score = np.clip(fx.eval_score + b.eval_score_spread * draws.normal("score"), 0.0, 1.0)
    retrieved = np.floor(b.retrieved_per_answer + draws("retrieved")).astype(np.int64)
    cited = np.minimum(retrieved, np.floor(b.citations_per_answer + draws("cited")))
    cited = np.where(answered & ~refused, cited, 0).astype(np.int64)
    hallucinated = answered & ~refused & (draws("hallucinated") < fx.hallucination_rate)
    pii = answered & ~refused & ~empty & (draws("pii") < fx.pii_rate)
    said = answered & ~refused & ~empty & (fx.bad_text != None)  # noqa: E711
    bad = refused | empty | hallucinated | pii | said
    down = answered & (draws("down") < fx.thumbs_down_rate + BAD_ANSWER_THUMBS_DOWN * bad)
    columns: Columns = {
        "time_us": t_us,
        "time": t_us.astype("datetime64[us]"),
        "feature": np.full(n, feature.name, dtype=object),
        "minute": minute,
        "seq": rank,
        "failed": failed,
        "error_type": error_type,
        "latency_ms": latency * fx.latency_factor,
        "input_tokens": inputs,
        "output_tokens": output,
        "cost_usd": (inputs * b.price_input + output * b.price_output) / 1e6,
        "refused": refused,
        "empty": empty,
        "eval_score": score,
        "retrieved": retrieved,
        "cited": cited,
        "hallucinated": hallucinated,
        "pii": pii,
        "injection": draws("injection") < fx.injection_rate,
        "user": np.floor(draws("user") * feature.users).astype(np.int64),
        "thumbs_down": down,
        "thumbs_up": answered & ~down & (draws("up") < b.thumbs_up_rate),
        "feedback_delay_s": 5 + 115 * draws("delay"),
        "faults": fx.faults,
        "bad_text": np.where(said, fx.bad_text, np.full(n, None, dtype=object)),
    }
    for name, values in zip(names, codes, strict=True):
        columns[f"seg:{name}"] = values
    return columns


def _feedback(columns: Columns) -> list[Feedback]:
    """Thumbs on the calls that got them, a few seconds to two minutes after the call."""
    given = np.flatnonzero(columns["thumbs_down"] | columns["thumbs_up"])
    when = columns["time"][given] + (columns["feedback_delay_s"][given] * _US).astype(
        "timedelta64[us]"
    )
    down = columns["thumbs_down"][given].tolist()
    found: list[Feedback] = []
    stamps = Batch({"time": when}, ()).times()
    features = columns["feature"][given].tolist()
    minutes, seqs = columns["minute"][given].tolist(), columns["seq"][given].tolist()
    for f, m, s, at, d in zip(features, minutes, seqs, stamps, down, strict=True):
        call_id = f"{f}-{m}-{s}"
        kind = FeedbackKind.THUMBS_DOWN if d else FeedbackKind.THUMBS_UP
        found.append(Feedback(f"{call_id}-{kind.value}", call_id, at, kind, feature=f))
    return found


__all__ = ["Batch", "generate"]
