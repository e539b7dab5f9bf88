"""The drill generator: deterministic, chunk-invariant, faithful to the scenario, and fast."""

import itertools
import time
from datetime import timedelta

import numpy as np

from fireline.drill.generator import generate
from fireline.drill.spec import load_scenario, parse_scenario
from fireline.store.telemetry import CALL_FIELDS

QUALITY = load_scenario("quality-regression-after-prompt-change")
OUTAGE = load_scenario("provider-outage")
SHORT = parse_scenario(
    """\
name: short
duration: 3h
features:
  - name: bot
    rate: 40
    segments:
      tenant: {acme: 0.5, globex: 0.5}
    baseline: {error_rate: 0.01}
faults:
  - kind: error_burst
    feature: bot
    onset: 1h
    duration: 1h
    where: {tenant: acme}
    error_rate: 0.5
    error_types: {http_503: 1.0}
"""
)


def same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_the_same_seed_gives_the_same_calls_and_another_seed_other_calls() -> None:
    first, again, other = generate(SHORT, 1), generate(SHORT, 1), generate(SHORT, 2)

    assert same(first.columns, again.columns)
    assert first.feedback == again.feedback
    assert not np.array_equal(first.columns["latency_ms"][:100], other.columns["latency_ms"][:100])


def test_pieces_of_time_generated_apart_equal_the_whole_generated_at_once() -> None:
    start = QUALITY.start + timedelta(hours=9, minutes=50)
    cuts = [start + timedelta(seconds=s) for s in (0, 95, 600, 601, 1900)]
    whole = generate(QUALITY, 3, cuts[0], cuts[-1])
    pieces = [generate(QUALITY, 3, a, b) for a, b in itertools.pairwise(cuts)]

    for name, column in whole.columns.items():
        joined = np.concatenate([p.columns[name] for p in pieces])
        assert np.array_equal(column, joined), name
    assert whole.feedback == [f for p in pieces for f in p.feedback]
    assert whole.changes == [c for p in pieces for c in p.changes]


def test_the_fault_shows_only_in_its_window_and_segment_at_its_rate() -> None:
    c = generate(SHORT, 5).columns
    hours = (c["time"] - np.datetime64(SHORT.start.replace(tzinfo=None))) / np.timedelta64(1, "h")
    window = (hours >= 1) & (hours < 2)
    acme = c["tenant"] == "acme"

    hit = c["failed"][window & acme]
    assert abs(hit.mean() - 0.5) < 4 * np.sqrt(0.25 / len(hit))
    for spared in (window & ~acme, ~window):
        assert abs(c["failed"][spared].mean() - 0.01) < 0.004
    assert set(c["error_type"][window & acme & c["failed"]]) == {"http_503"}


def test_the_prompt_change_moves_half_the_traffic_and_only_v2_refuses_more() -> None:
    c = generate(QUALITY, 11).columns
    hours = (c["time"] - np.datetime64(QUALITY.start.replace(tzinfo=None))) / np.timedelta64(1, "h")
    during = (hours >= 10.1) & (hours < 16)
    v2 = c["prompt_version"] == "v2"

    assert not v2[hours < 10].any()
    assert abs(v2[during].mean() - 0.5) < 0.01
    assert abs(c["refused"][during & v2].mean() - 0.12) < 0.01
    assert abs(c["refused"][during & ~v2].mean() - 0.02) < 0.005
    assert abs(c["eval_score"][during & v2 & ~c["failed"]].mean() - 0.70) < 0.01


def test_traffic_follows_the_daily_cycle_peaking_at_the_peak_hour() -> None:
    c = generate(OUTAGE, 2).columns
    hour = (c["time"].astype("datetime64[h]").astype(np.int64)) % 24
    per_hour = np.bincount(hour, minlength=24) / 3600
    feature = OUTAGE.features[0]
    expected = feature.rate * (
        1 + feature.daily_amplitude * np.cos(2 * np.pi * (np.arange(24) + 0.5 - 14) / 24)
    )

    assert int(np.argmax(per_hour)) in (13, 14)
    assert np.all(np.abs(per_hour - expected) < 0.1 * expected + 0.1)


def test_the_calls_convert_to_the_telemetry_stores_columns_and_to_call_objects() -> None:
    batch = generate(SHORT, 1, SHORT.start, SHORT.start + timedelta(minutes=2))
    columns = batch.store_columns()
    calls = batch.calls()

    assert set(columns) == set(CALL_FIELDS)
    assert len(set(columns["call_id"])) == len(batch) == len(calls)
    assert calls[0].time.tzinfo is not None
    assert all(f.call_id in set(columns["call_id"]) for f in batch.feedback)


def test_generation_runs_at_over_a_hundred_thousand_calls_per_second() -> None:
    generate(QUALITY, 0, QUALITY.start, QUALITY.start + timedelta(hours=1))
    started = time.perf_counter()
    batch = generate(QUALITY, 0)
    rate = len(batch) / (time.perf_counter() - started)

    assert rate > 100_000
