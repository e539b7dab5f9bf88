"""Calls per second the drill generator produces: a day of each bundled scenario, five runs.

Writes bench/results/drill_generator.json: the median of five runs of generating every
bundled scenario's whole day (numpy columns), and, apart, of converting them to the telemetry
store's column lists (`Batch.store_columns`).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from pathlib import Path

from fireline.drill.generator import generate
from fireline.drill.spec import bundled_scenarios, load_scenario

RESULTS = Path(__file__).resolve().parent / "results" / "drill_generator.json"
RUNS = 5


def main() -> None:
    specs = [load_scenario(name) for name in bundled_scenarios()]
    generate(specs[0], 0, specs[0].start, specs[0].start.replace(hour=1))  # warm up
    rates, convert_rates, calls = [], [], 0
    for run in range(RUNS):
        calls, seconds, converting = 0, 0.0, 0.0
        for spec in specs:
            started = time.perf_counter()
            batch = generate(spec, run)
            seconds += time.perf_counter() - started
            started = time.perf_counter()
            batch.store_columns()
            converting += time.perf_counter() - started
            calls += len(batch)
        rates.append(calls / seconds)
        convert_rates.append(calls / converting)
    result = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_before": list(os.getloadavg()),
        },
        "scenarios": [spec.name for spec in specs],
        "calls_per_run": calls,
        "runs": RUNS,
        "calls_per_s": round(statistics.median(rates)),
        "calls_per_s_runs": [round(r) for r in rates],
        "store_columns_calls_per_s": round(statistics.median(convert_rates)),
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
