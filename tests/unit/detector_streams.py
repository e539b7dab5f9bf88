"""Synthetic windows of every signal kind, stable or faulty, for the detector contract test.

Each kind has a stable behaviour and one obvious fault that any detector of that kind, in its
default direction, must catch. Streams are made one bucket at a time from a seeded generator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from fireline.detect.base import SignalKind, Window, mean_window, rate_window

T0 = datetime(2026, 1, 5, tzinfo=UTC)
CALLS_PER_BUCKET = 150


@dataclass(frozen=True)
class KindStreams:
    """How to make stable and faulty windows of one signal kind."""

    bucket: timedelta
    stable: Callable[[np.random.Generator, datetime, datetime], Window]
    fault: Callable[[np.random.Generator, datetime, datetime], Window]
    #: How long a stream stays stable before a fault, long enough to learn a baseline.
    quiet: timedelta = timedelta(hours=2)

    @property
    def quiet_buckets(self) -> int:
        return int(self.quiet / self.bucket)


def _rate(error_rate: float) -> Callable[[np.random.Generator, datetime, datetime], Window]:
    def make(rng: np.random.Generator, start: datetime, end: datetime) -> Window:
        calls = int(rng.poisson(CALLS_PER_BUCKET))
        return rate_window(start, end, calls, int(rng.binomial(calls, error_rate)))

    return make


def _latency(mean_ms: float) -> Callable[[np.random.Generator, datetime, datetime], Window]:
    def make(rng: np.random.Generator, start: datetime, end: datetime) -> Window:
        calls = int(rng.poisson(CALLS_PER_BUCKET))
        return mean_window(start, end, rng.normal(mean_ms, 150.0, calls))

    return make


def _volume(per_bucket: float) -> Callable[[np.random.Generator, datetime, datetime], Window]:
    def make(rng: np.random.Generator, start: datetime, end: datetime) -> Window:
        return Window(start, end, n=1, total=float(rng.poisson(per_bucket)))

    return make


def _p99(level: float) -> Callable[[np.random.Generator, datetime, datetime], Window]:
    """A level against a budget of 1.0 (p99 latency over its SLO, say)."""

    def make(rng: np.random.Generator, start: datetime, end: datetime) -> Window:
        return Window(start, end, n=CALLS_PER_BUCKET, total=float(rng.normal(level, 0.05)))

    return make


def _lengths(scale: float) -> Callable[[np.random.Generator, datetime, datetime], Window]:
    def make(rng: np.random.Generator, start: datetime, end: datetime) -> Window:
        return mean_window(start, end, rng.lognormal(np.log(scale), 0.5, 60))

    return make


def _finish_reasons(
    shares: dict[str, float],
) -> Callable[[np.random.Generator, datetime, datetime], Window]:
    names = sorted(shares)
    p = np.array([shares[name] for name in names])

    def make(rng: np.random.Generator, start: datetime, end: datetime) -> Window:
        counts = rng.multinomial(int(rng.poisson(CALLS_PER_BUCKET)), p / p.sum())
        found = {name: int(c) for name, c in zip(names, counts, strict=True) if c}
        return Window(start, end, n=sum(found.values()), categories=found)

    return make


_BILLING = [
    "How do I update the card on my invoice?",
    "Why was I charged twice this month?",
    "Can I get a refund for my last payment?",
    "Where can I download my billing statement?",
    "How do I change my subscription plan?",
]
_GARDENING = [
    "When should I plant tomatoes outside?",
    "How often do I water an orchid?",
    "What soil do roses like best?",
    "How do I keep slugs off my lettuce?",
    "Can I grow basil indoors in winter?",
]


def _texts(corpus: list[str]) -> Callable[[np.random.Generator, datetime, datetime], Window]:
    def make(rng: np.random.Generator, start: datetime, end: datetime) -> Window:
        picked = tuple(corpus[i] for i in rng.integers(0, len(corpus), 20))
        return Window(start, end, n=len(picked), texts=picked)

    return make


STREAMS: dict[SignalKind, KindStreams] = {
    SignalKind.RATE: KindStreams(timedelta(minutes=1), _rate(0.01), _rate(0.5)),
    SignalKind.MEAN: KindStreams(timedelta(minutes=1), _latency(800.0), _latency(2_400.0)),
    # Counts follow the day, so their detectors wait for two whole days of history.
    SignalKind.COUNT: KindStreams(
        timedelta(minutes=1),
        _volume(CALLS_PER_BUCKET),
        _volume(3 * CALLS_PER_BUCKET),
        quiet=timedelta(days=2, hours=2),
    ),
    SignalKind.NUMERIC: KindStreams(timedelta(minutes=1), _lengths(300.0), _lengths(900.0)),
    SignalKind.CATEGORICAL: KindStreams(
        timedelta(minutes=1),
        _finish_reasons({"stop": 0.9, "length": 0.08, "content_filter": 0.02}),
        _finish_reasons({"stop": 0.4, "length": 0.1, "content_filter": 0.5}),
    ),
    SignalKind.LEVEL: KindStreams(timedelta(minutes=1), _p99(0.5), _p99(3.0)),
    SignalKind.TEXT: KindStreams(
        timedelta(hours=1), _texts(_BILLING), _texts(_GARDENING), quiet=timedelta(hours=48)
    ),
}


def stream(
    kind: SignalKind, faulty: list[bool], rng: np.random.Generator, start: datetime = T0
) -> list[Window]:
    """One window per entry of `faulty`, one bucket apart from `start`."""
    streams = STREAMS[kind]
    windows = []
    for i, fault in enumerate(faulty):
        begin = start + i * streams.bucket
        make = streams.fault if fault else streams.stable
        windows.append(make(rng, begin, begin + streams.bucket))
    return windows
