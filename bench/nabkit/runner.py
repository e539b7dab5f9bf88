"""Run a fireline detector online over the NAB corpus and score it."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from typing import Any

import numpy as np

from fireline.detect.base import Window

from .corpus import PROFILES, REPORT_KEYS, Series, load_corpus, load_profiles, load_scoreboard
from .scorer import probation_length, score_corpus

#: `--quick`: one series per category with anomalies, plus one without (41k rows, 18 windows).
QUICK_KEYS = (
    "artificialNoAnomaly/art_daily_small_noise.csv",
    "artificialWithAnomaly/art_daily_jumpsup.csv",
    "realAWSCloudwatch/ec2_cpu_utilization_5f5533.csv",
    "realAdExchange/exchange-4_cpc_results.csv",
    "realKnownCause/nyc_taxi.csv",
    "realTraffic/speed_7578.csv",
    "realTweets/Twitter_volume_GOOG.csv",
)


def _stamp(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def nab_inputs_of(series: Series) -> dict[str, Any]:
    """What NAB's runner hands every detector besides the records: the file's value range
    (`inputMin`, `inputMax`) and its probationary period in rows."""
    return {
        "input_min": float(series.values.min()),
        "input_max": float(series.values.max()),
        "probation": probation_length(len(series)),
    }


def anomaly_scores(
    factory: Callable[..., Any], series: Series, nab_inputs: bool = False
) -> np.ndarray:
    """Feed one series, one record at a time, to a fresh detector; its score after each.

    A record is a MEAN window of one value spanning to the next record. The detector's
    `score` (in [0, 1]) is the NAB anomaly score; a detector without one scores 1 while
    alarmed and 0 otherwise. With `nab_inputs`, the factory is called with the keyword
    arguments of `nab_inputs_of` (NAB's protocol), else with none.
    """
    detector = factory(**nab_inputs_of(series)) if nab_inputs else factory()
    stamps = [_stamp(s) for s in series.timestamps]
    step = stamps[1] - stamps[0] if len(stamps) > 1 else None
    out = np.zeros(len(stamps))
    for i, (start, value) in enumerate(zip(stamps, series.values.tolist(), strict=True)):
        end = stamps[i + 1] if i + 1 < len(stamps) else start + (step or (start - start))
        detector.update(
            Window(start, end, n=1, total=value, total_sq=value * value, values=(value,))
        )
        score = getattr(detector, "score", None)
        out[i] = float(score) if score is not None else float(detector.drift_detected)
    return np.clip(out, 0.0, 1.0)


def run_detector(
    factory: Callable[..., Any],
    *,
    keys: Sequence[str] | None = None,
    workers: int = 1,
    nab_inputs: bool = False,
) -> dict[str, Any]:
    """Score a detector over the NAB corpus (or the series `keys`), all three profiles.

    `factory` builds a fresh detector per series (picklable when `workers` > 1), given
    NAB's per-file inputs (`nab_inputs_of`) as keyword arguments when `nab_inputs`. Returns
    `nab_standard`, `nab_low_fp`, `nab_low_fn` (normalized, null 0, perfect 100), each
    profile's threshold and raw score, the published `scoreboard`, and timings.
    """
    corpus = load_corpus()
    if keys is not None:
        wanted = set(keys)
        corpus = tuple(s for s in corpus if s.key in wanted)
    began = time.perf_counter()
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            arrays = list(
                pool.map(
                    anomaly_scores, [factory] * len(corpus), corpus, [nab_inputs] * len(corpus)
                )
            )
    else:
        arrays = [anomaly_scores(factory, series, nab_inputs) for series in corpus]
    seconds = time.perf_counter() - began
    results = score_corpus(
        corpus, dict(zip([s.key for s in corpus], arrays, strict=True)), load_profiles()
    )
    report: dict[str, Any] = {REPORT_KEYS[p]: round(results[p].normalized, 2) for p in PROFILES}
    report["profiles"] = {
        p: {"threshold": results[p].threshold, "raw": round(results[p].raw, 4)} for p in PROFILES
    }
    report["series"] = len(corpus)
    report["rows"] = sum(len(s) for s in corpus)
    report["windows"] = sum(len(s.windows) for s in corpus)
    report["detect_seconds"] = round(seconds, 2)
    report["scoreboard"] = load_scoreboard()
    return report
