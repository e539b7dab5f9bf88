"""Drills: every built-in scenario through the whole loop, scored against issue 9's targets.

    .venv/bin/python bench/drills.py              # every built-in scenario (several minutes)
    .venv/bin/python bench/drills.py --seed 3     # another seed
    .venv/bin/python bench/drills.py --quick      # three one-day scenarios, printed only
    .venv/bin/python bench/drills.py --jobs 1     # one scenario at a time (default: 2)

Runs `fireline drill NAME --json` for every built-in scenario (subprocesses, as a user would;
`--jobs` of them at once, each on one core) and writes
bench/results/drills.json: the scorecards, the overall summary, and each target of the issue
with whether it is met: every fault scenario detected with the right type, severity within
its range and the right containment level, the root-cause change ranked first where there is
one, blast-radius precision and recall >= 0.9, no false alarm on the fault-free day, time to
detect <= 5 simulated minutes for hard failures and <= 1 simulated day for the slow drift
(the scenarios' `detect_within`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from fireline.drill import bundled_scenarios, overall
from fireline.drill.scorecard import Scorecard

RESULTS = Path(__file__).resolve().parent / "results" / "drills.json"
QUICK = ("provider-outage", "vendor-latency-spike", "quiet-day")
BLAST = 0.9


def run(args: list[str]) -> dict[str, Any]:
    found = subprocess.run(
        [sys.executable, "-m", "fireline", "drill", *args, "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    if found.returncode not in (0, 1):  # 1: a scenario failed its scorecard
        raise SystemExit(f"fireline drill failed ({found.returncode}):\n{found.stderr}")
    answer: dict[str, Any] = json.loads(found.stdout)
    return answer


def targets(cards: list[dict[str, Any]]) -> dict[str, Any]:
    """Each of the issue's targets over the scenarios it applies to: met, and the misses."""
    faulty = [c for c in cards if c["expected"] is not None]
    quiet = [c for c in cards if c["expected"] is None]

    def check(name: str, applies: list[dict[str, Any]], ok: Any) -> tuple[str, dict[str, Any]]:
        missed = [c["scenario"] for c in applies if not ok(c)]
        return name, {"met": not missed, "of": len(applies), "missed": missed}

    with_cause = [c for c in faulty if c["expected"]["root_cause_change"] is not None]
    timed = [c for c in faulty if c["expected"]["detect_within"] is not None]
    return dict(
        [
            check("detected", faulty, lambda c: c["detected"]),
            check("type_correct", faulty, lambda c: c["type_correct"]),
            check("severity_in_range", faulty, lambda c: c["severity_correct"]),
            check("containment_level_right", faulty, lambda c: c["containment_correct"]),
            check("root_cause_ranked_first", with_cause, lambda c: c["root_cause_rank"] == 1),
            check(
                "blast_radius_precision_and_recall_at_least_0.9",
                faulty,
                lambda c: (
                    (c["blast_radius_precision"] or 0) >= BLAST
                    and (c["blast_radius_recall"] or 0) >= BLAST
                ),
            ),
            check("no_false_alarm_on_the_fault_free_day", quiet, lambda c: c["false_alarms"] == 0),
            check(
                "detected_within_its_time",
                timed,
                lambda c: (
                    c["time_to_detect_s"] is not None
                    and c["time_to_detect_s"] <= c["expected"]["detect_within"]
                ),
            ),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="three scenarios, nothing written")
    parser.add_argument("--jobs", type=int, default=2, help="scenarios run at once")
    options = parser.parse_args()
    load = [round(x, 2) for x in os.getloadavg()]
    started = time.perf_counter()
    names = list(QUICK) if options.quick else bundled_scenarios()
    with ThreadPoolExecutor(max(1, options.jobs)) as pool:
        answers = pool.map(lambda name: run([name, "--seed", str(options.seed)]), names)
        cards = [answer["scenarios"][0] for answer in answers]
    answer = {"scenarios": cards, "overall": overall([Scorecard(**c) for c in cards])}
    result = {
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_before": load,
        },
        "seed": options.seed,
        "wall_seconds": round(time.perf_counter() - started, 1),
        "targets": targets(answer["scenarios"]),
        "overall": answer.get("overall"),
        "scenarios": answer["scenarios"],
    }
    text = json.dumps(result, indent=2)
    if not options.quick:
        RESULTS.write_text(text + "\n")
    summary = {k: result[k] for k in ("wall_seconds", "targets", "overall")}
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
