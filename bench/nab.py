"""The Numenta Anomaly Benchmark (NAB) for fireline's detectors: `python bench/nab.py`.

Runs `MetricAnomalyDetector` online over the 58 NAB series (one record at a time, a fresh
detector per series), scores it with fireline's own implementation of NAB v1.0's scoring
(`nabkit.scorer`), writes `bench/results/nab.json` and prints the three profiles' normalized
scores beside the published scoreboard. The headline run follows NAB's protocol: each
detector gets the file's value range (`inputMin`, `inputMax`) and probationary period, as
NAB's runner gives every detector; the product's defaults (neither known) are run too and
reported under `product_default` (`--variant` picks one). `--quick` runs the 7 series of
`nabkit.runner.QUICK_KEYS` (one per category, about 41k rows) in well under a minute and
writes nothing unless `--out`.
`--check` first proves the scorer faithful on the published Numenta raw scores.

As a module (`from nab import run_detector` with bench/ on the path, as the other bench
scripts import their siblings): `run_detector(factory)` returns the report as a dict.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from nabkit.corpus import PROFILES, REPORT_KEYS, load_corpus, load_profiles, load_published_scores
from nabkit.runner import QUICK_KEYS, run_detector
from nabkit.scorer import score_corpus

from fireline.detect.anomaly import MetricAnomalyDetector

__all__ = ["check_scorer", "run_detector"]

RESULTS = Path(__file__).resolve().parent / "results" / "nab.json"


def check_scorer() -> dict[str, float]:
    """Our scorer's normalized scores of the published Numenta raw scores (70.10/63.12/74.32)."""
    corpus = load_corpus()
    scores = score_corpus(corpus, load_published_scores("numenta", corpus), load_profiles())
    return {REPORT_KEYS[p]: round(scores[p].normalized, 2) for p in PROFILES}


def _print(report: dict[str, Any]) -> None:
    print(
        f"fireline {MetricAnomalyDetector.name}: {report['series']} series, "
        f"{report['rows']} rows, {report['windows']} windows, {report['detect_seconds']} s"
    )
    header = f"{'detector':22s} {'standard':>9s} {'low FP':>9s} {'low FN':>9s}"
    print(header)
    board = sorted(report["scoreboard"].items(), key=lambda item: -item[1]["nab_standard"])
    ours = [("fireline (this run)", report)] if "nab_standard" in report else []
    if "product_default" in report:
        ours.append(("fireline (product)", report["product_default"]))
    rows = [*ours, *board]
    for name, scores in rows:
        print(f"{name:22s} " + " ".join(f"{scores[REPORT_KEYS[p]]:9.2f}" for p in PROFILES))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="7 series only, about 41k rows")
    parser.add_argument("--check", action="store_true", help="prove the scorer faithful first")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=None, help=f"default: {RESULTS} (full run)")
    parser.add_argument(
        "--variant",
        choices=("both", "nab", "product"),
        default="both",
        help="nab: NAB's inputs (value range, probation) given to the detector (the headline); "
        "product: the product's defaults; both (default)",
    )
    args = parser.parse_args(argv)

    report: dict[str, Any] = {}
    if args.check:
        faithful = check_scorer()
        print(
            "scorer over the published numenta scores:", faithful, "(published 70.10/63.12/74.32)"
        )
        report["scorer_check_numenta"] = faithful
    began = time.perf_counter()
    keys, workers = QUICK_KEYS if args.quick else None, max(args.workers, 1)
    if args.variant in ("both", "nab"):
        report |= run_detector(MetricAnomalyDetector, keys=keys, workers=workers, nab_inputs=True)
        report["nab_inputs"] = "input_min, input_max (the file's value range), probation (rows)"
    if args.variant in ("both", "product"):
        product = run_detector(MetricAnomalyDetector, keys=keys, workers=workers)
        report["product_default"] = {
            "note": "the product's defaults: no value range or probationary period given",
            **{k: product[k] for k in (*REPORT_KEYS.values(), "profiles", "detect_seconds")},
        }
        for k in ("series", "rows", "windows", "detect_seconds", "scoreboard"):
            report.setdefault(k, product[k])
    report["seconds"] = round(time.perf_counter() - began, 2)
    report["detector"] = {
        "class": "fireline.detect.anomaly.MetricAnomalyDetector",
        "parameters": {
            k: (v if v is None or isinstance(v, int | float) else str(v))
            for k, v in vars(MetricAnomalyDetector()).items()
            if not k.startswith("_")
        },
    }
    report["quick"] = args.quick
    report["machine"] = {"python": sys.version.split()[0], "platform": platform.platform()}
    _print(report)
    out = args.out or (None if args.quick else RESULTS)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
