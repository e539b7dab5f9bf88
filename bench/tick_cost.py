"""Seconds per detection tick over a store of N calls with 20 segment values.

Calls span the last week, one feature, five models and fifteen tenants (20 segment values);
the engine is warmed up with one tick, then each measured tick follows one more minute of
calls, as in production.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from fireline.clock import SimulatedClock
from fireline.runtime import Fireline
from fireline.settings import Settings
from fireline.store.telemetry import CALL_FIELDS

END = datetime(2026, 3, 9, tzinfo=UTC)
SPAN = timedelta(days=7)
MODELS = [f"model-{i}" for i in range(5)]
TENANTS = [f"tenant-{i}" for i in range(15)]
CHUNK = 250_000


def _columns(rng: np.random.Generator, times: np.ndarray, first_id: int) -> dict[str, list[Any]]:
    n = len(times)
    failed = rng.random(n) < 0.01
    columns: dict[str, list[Any]] = {field: [None] * n for field in CALL_FIELDS}
    columns["call_id"] = [f"c{first_id + i}" for i in range(n)]
    columns["time"] = [datetime.fromtimestamp(t, UTC) for t in times]
    columns["feature"] = ["assistant"] * n
    columns["status"] = ["error" if f else "ok" for f in failed]
    columns["latency_ms"] = rng.lognormal(6.5, 0.4, n).tolist()
    columns["model"] = [MODELS[i] for i in rng.integers(0, len(MODELS), n)]
    columns["tenant"] = [TENANTS[i] for i in rng.integers(0, len(TENANTS), n)]
    columns["input_tokens"] = rng.integers(50, 2_000, n).tolist()
    columns["output_tokens"] = rng.integers(10, 800, n).tolist()
    columns["cost_usd"] = (rng.random(n) * 0.01).tolist()
    columns["finish_reason"] = ["stop"] * n
    columns["attributes"] = [{}] * n
    columns["retrieved_doc_ids"] = [()] * n
    columns["cited_doc_ids"] = [()] * n
    columns["eval_scores"] = [{}] * n
    return columns


def tick_seconds(folder: Path, size: int, ticks: int = 5) -> dict[str, Any]:
    """Fill a store with `size` calls, warm the engine, and time `ticks` steady ticks."""
    rng = np.random.default_rng(size)
    clock = SimulatedClock(END)
    app = Fireline(Settings(data_dir=folder), clock=clock, lateness_s=0)
    started = time.perf_counter()
    start_s = (END - SPAN).timestamp()
    times = np.sort(rng.uniform(start_s, END.timestamp(), size))
    for first in range(0, size, CHUNK):
        app.telemetry.insert_new_columns(_columns(rng, times[first : first + CHUNK], first))
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    app.tick()
    warm_s = time.perf_counter() - started
    per_minute = size / (SPAN.total_seconds() / 60)
    measured = []
    next_id = size
    for _ in range(ticks):
        minute = clock.now().timestamp()
        count = int(rng.poisson(per_minute))
        batch = np.sort(rng.uniform(minute, minute + 60, count))
        app.telemetry.insert_new_columns(_columns(rng, batch, next_id))
        next_id += count
        clock.advance(60)
        started = time.perf_counter()
        result = app.tick()
        measured.append(time.perf_counter() - started)
    app.close()
    return {
        "calls": size,
        "segment_values": len(MODELS) + len(TENANTS),
        "series_watched": result.series,
        "load_s": load_s,
        "first_tick_s": warm_s,
        "tick_s": measured,
        "median_tick_s": statistics.median(measured),
    }
