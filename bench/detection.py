"""Detection benchmark: delay against Lorden's bound, river's detectors beside ours, NAB, tick cost.

    python bench/detection.py [--quick] [--skip-nab] [--skip-tick]

Writes bench/results/detection.json. Parts:

1. Step changes in a Bernoulli rate (error 1%→3%, thumbs-down 5%→8%, refusal 2%→10%) and in
   a Gaussian mean (latency +20%), two calls a second in ten-second windows, after a day
   of baseline. Mean detection delay in calls over Lorden's lower bound log(ARL)/KL(p1‖p0), with
   ARL the calls of 30 days at the calibrated budget of one false alarm per 30 days; and the
   false alarms counted over many simulated days without a change.
2. The same streams, call by call, through river's ADWIN, PageHinkley and KSWIN (defaults).
3. The Numenta Anomaly Benchmark with fireline's MetricAnomalyDetector (bench/nabkit).
4. Seconds per tick with 1 and 10 million stored calls and 20 segments.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from fireline.detect.base import Window
from fireline.detect.bernoulli import BernoulliCusum
from fireline.detect.gaussian import GaussianCusum

RESULTS = Path(__file__).parent / "results"
# Two calls a second in ten-second windows (bucket_s: 10, the smallest the engine takes):
# with one-minute windows the window itself (120 calls) would exceed the bound of the
# latency case (about 70 calls), and the benchmark would measure the bucket, not the test.
CALLS_PER_BUCKET = 20
BUCKET = timedelta(seconds=10)
BUCKETS_PER_DAY = 8_640
T0 = datetime(2026, 1, 5, tzinfo=UTC)
WARMUP_BUCKETS = BUCKETS_PER_DAY  # a day of baseline before anything is measured
BUCKETS_PER_30_DAYS = 30 * BUCKETS_PER_DAY
LATENCY_MS, LATENCY_SD = 1_000.0, 300.0


@dataclass(frozen=True)
class Case:
    name: str
    kind: str  # "bernoulli" or "gaussian"
    before: float
    after: float

    def kl(self) -> float:
        """KL(after ‖ before) per call."""
        if self.kind == "bernoulli":
            p1, p0 = self.after, self.before
            return p1 * math.log(p1 / p0) + (1 - p1) * math.log((1 - p1) / (1 - p0))
        return (self.after - self.before) ** 2 / (2 * LATENCY_SD**2)

    def detector(self) -> BernoulliCusum | GaussianCusum:
        return BernoulliCusum() if self.kind == "bernoulli" else GaussianCusum()

    def windows(self, rng: np.random.Generator, buckets: int, start: int, p: float) -> list[Window]:
        out = []
        for i in range(buckets):
            begin = T0 + (start + i) * BUCKET
            if self.kind == "bernoulli":
                hits = float(rng.binomial(CALLS_PER_BUCKET, p))
                out.append(Window(begin, begin + BUCKET, n=CALLS_PER_BUCKET, total=hits))
            else:
                values = rng.normal(p, LATENCY_SD, CALLS_PER_BUCKET)
                out.append(
                    Window(
                        begin,
                        begin + BUCKET,
                        n=CALLS_PER_BUCKET,
                        total=float(values.sum()),
                        total_sq=float((values * values).sum()),
                    )
                )
        return out

    def calls(self, rng: np.random.Generator, n: int, p: float) -> np.ndarray:
        if self.kind == "bernoulli":
            return (rng.random(n) < p).astype(float)
        return rng.normal(p, LATENCY_SD, n)


CASES = [
    Case("error_rate 1%->3%", "bernoulli", 0.01, 0.03),
    Case("thumbs_down 5%->8%", "bernoulli", 0.05, 0.08),
    Case("refusal 2%->10%", "bernoulli", 0.02, 0.10),
    Case("latency +20%", "gaussian", LATENCY_MS, LATENCY_MS * 1.2),
]


def _warm(case: Case, rng: np.random.Generator) -> Any:
    detector = case.detector()
    for window in case.windows(rng, WARMUP_BUCKETS, 0, case.before):
        detector.update(window)
    return detector


def delay_runs(case: Case, runs: int, seed: int) -> list[float]:
    """Calls from the change to the end of the window that alarmed, per run."""
    delays = []
    for run in range(runs):
        rng = np.random.default_rng(seed + run)
        detector = _warm(case, rng)
        for i, window in enumerate(case.windows(rng, 5_000, WARMUP_BUCKETS, case.after)):
            detector.update(window)
            if detector.drift_detected:
                delays.append(float((i + 1) * CALLS_PER_BUCKET))
                break
    return delays


def false_alarms(case: Case, days: int, seed: int) -> int:
    rng = np.random.default_rng(seed)
    detector = _warm(case, rng)
    alarms, start = 0, WARMUP_BUCKETS
    for _ in range(days):
        for window in case.windows(rng, BUCKETS_PER_DAY, start, case.before):
            detector.update(window)
            if detector.drift_detected:
                alarms += 1
                detector.clear()
        start += BUCKETS_PER_DAY
    return alarms


def part1(runs: int, days: int) -> dict[str, Any]:
    log_arl = math.log(CALLS_PER_BUCKET * BUCKETS_PER_30_DAYS)
    cases = {}
    for number, case in enumerate(CASES):
        delays = delay_runs(case, runs, seed=1_000 * number)
        bound = log_arl / case.kl()
        fa = false_alarms(case, days, seed=99 + number)
        cases[case.name] = {
            "mean_delay_calls": statistics.fmean(delays) if delays else None,
            "median_delay_calls": statistics.median(delays) if delays else None,
            "detected_runs": len(delays),
            "runs": runs,
            "lorden_bound_calls": bound,
            "delay_vs_bound": statistics.fmean(delays) / bound if delays else None,
            "false_alarms": fa,
            "days_without_change": days,
            "false_alarms_per_30d": fa * 30 / days,
        }
        print(f"  {case.name}: {cases[case.name]}", flush=True)
    worst = max(c["delay_vs_bound"] or math.inf for c in cases.values())
    fa_total = sum(c["false_alarms"] for c in cases.values())
    return {
        "cases": cases,
        "delay_vs_bound": worst,
        # Per signal: the mean over the four streams of false alarms per 30 days.
        "false_alarms_per_30d": fa_total * 30 / (days * len(CASES)),
        "log_arl": log_arl,
    }


def _river_detectors() -> dict[str, Callable[[], Any]] | str:
    try:
        from river.drift import ADWIN, KSWIN, PageHinkley
    except ImportError:
        return "river is not installed (pip install '.[bench]')"
    return {"ADWIN": ADWIN, "PageHinkley": PageHinkley, "KSWIN": lambda: KSWIN(seed=1)}


def part2(runs: int, stable_calls: int) -> dict[str, Any]:
    makers = _river_detectors()
    if isinstance(makers, str):
        print(f"  peers skipped: {makers}")
        return {"skipped": makers}
    peers: dict[str, Any] = {}
    for name, make in makers.items():
        # KSWIN runs a Kolmogorov-Smirnov test at every call (0.4 ms each here): it gets a
        # shorter baseline (its window is 100 calls anyway), fewer runs and fewer days.
        slow = name == "KSWIN"
        warm = 2_000 if slow else 20_000  # calls of baseline before the change
        peer_runs = min(runs, 3) if slow else runs
        peer_stable = min(stable_calls, 50_000) if slow else stable_calls
        per_case = {}
        for number, case in enumerate(CASES):
            delays = []
            for run in range(peer_runs):
                rng = np.random.default_rng(5_000 + 1_000 * number + run)
                detector = make()
                for x in case.calls(rng, warm, case.before):
                    detector.update(float(x))
                after = case.calls(rng, 5_000 if slow else 20_000, case.after)
                for i, x in enumerate(after):
                    detector.update(float(x))
                    if detector.drift_detected:
                        delays.append(float(i + 1))
                        break
            rng = np.random.default_rng(77 + number)
            detector = make()
            for x in case.calls(rng, warm, case.before):
                detector.update(float(x))
            fa = 0
            for x in case.calls(rng, peer_stable, case.before):
                detector.update(float(x))
                fa += bool(detector.drift_detected)
            days = peer_stable / (CALLS_PER_BUCKET * BUCKETS_PER_DAY)
            per_case[case.name] = {
                "mean_delay_calls": statistics.fmean(delays) if delays else None,
                "detected_runs": len(delays),
                "runs": peer_runs,
                "false_alarms": fa,
                "days_without_change": days,
                "false_alarms_per_30d": fa * 30 / days,
            }
        peers[name] = per_case
        print(f"  {name}: {per_case}", flush=True)
    return peers


def part3(quick: bool) -> dict[str, Any]:
    sys.path.insert(0, str(Path(__file__).parent))
    from nabkit.runner import (
        QUICK_KEYS,  # type: ignore[import-not-found]
        run_detector,  # type: ignore[import-not-found]
    )

    from fireline.detect.anomaly import MetricAnomalyDetector

    started = time.perf_counter()
    keys = QUICK_KEYS if quick else None
    result: dict[str, Any] = run_detector(MetricAnomalyDetector, keys=keys, workers=2)
    result["seconds"] = time.perf_counter() - started
    return result


def part4(sizes: list[int]) -> dict[str, Any]:
    from tick_cost import tick_seconds  # type: ignore[import-not-found]

    out: dict[str, Any] = {}
    for size in sizes:
        with tempfile.TemporaryDirectory() as folder:
            out[size] = tick_seconds(Path(folder), size)
        print(f"  {size:,} calls: {out[size]}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs and days; < 60 s")
    parser.add_argument("--skip-nab", action="store_true")
    parser.add_argument("--skip-tick", action="store_true")
    parser.add_argument(
        "--only-nab-and-tick",
        action="store_true",
        help="re-run parts 3 and 4 only, keeping parts 1 and 2 of the existing results file",
    )
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    name = "detection-quick.json" if args.quick else "detection.json"
    report: dict[str, Any] = {"quick": args.quick, "date": datetime.now(UTC).isoformat()}
    if args.only_nab_and_tick:
        kept = json.loads((RESULTS / name).read_text())
        kept["parts_1_2_date"] = kept.get("parts_1_2_date", kept.get("date"))
        report = {**kept, "date": report["date"]}
    else:
        print("1. delay against Lorden's bound", flush=True)
        first = part1(runs=8 if args.quick else 100, days=4 if args.quick else 100)
        report.update(
            delay_vs_bound=first["delay_vs_bound"],
            false_alarms_per_30d=first["false_alarms_per_30d"],
            fireline=first,
        )
        print("2. river's detectors on the same streams", flush=True)
        # river learns call by call in Python (KSWIN re-tests its window at every call), so
        # its runs are fewer and shorter than ours.
        report["peers"] = part2(
            runs=1 if args.quick else 10, stable_calls=5_000 if args.quick else 500_000
        )
    if not args.skip_nab:
        print("3. Numenta Anomaly Benchmark", flush=True)
        nab = part3(args.quick)
        report.update(
            nab_standard=nab.get("nab_standard"),
            nab_low_fp=nab.get("nab_low_fp"),
            nab_low_fn=nab.get("nab_low_fn"),
            nab=nab,
        )
    if not args.skip_tick:
        print("4. tick cost", flush=True)
        sizes = [1_000_000] if args.quick else [1_000_000, 10_000_000]
        ticks = part4(sizes)
        report["tick_s_1m"] = ticks[1_000_000]["median_tick_s"]
        report["tick_s_10m"] = ticks.get(10_000_000, {}).get("median_tick_s")
        report["tick"] = {str(k): v for k, v in ticks.items()}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / name).write_text(json.dumps(report, indent=2, default=str) + "\n")
    keys = ("delay_vs_bound", "false_alarms_per_30d", "nab_standard", "tick_s_1m", "tick_s_10m")
    print(json.dumps({k: report.get(k) for k in keys}, indent=2))


if __name__ == "__main__":
    main()
