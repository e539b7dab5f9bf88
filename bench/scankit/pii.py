"""PII scanner benchmark: precision and recall per kind, calls/s, and peers on the same corpus.

    python -m scankit.pii [--quick]     (from bench/)

The corpus (bench/scankit/pii_corpus.py) is presidio-evaluator's templates filled by its Faker
providers, joined into calls of about 500 characters, with checksum-broken cards, IBANs and
SSNs as negatives. Speed is the CPU time of one process (one core) per call. A finding counts
when it overlaps a labelled span of the same kind (each label matched once); any other
finding of a structured kind is a false positive. Secrets have no labels in this corpus, so
every secret finding on it is a false alarm, counted under `other_findings`.

Peers, each on the same calls, or the reason it could not run:
- Presidio's pattern recognizers called directly (no spaCy model, which only downloads from
  a model hub), and Presidio's AnalyzerEngine over a blank spaCy English pipeline;
- scrubadub's default detectors; datafog's regex engine;
- LLM Guard (not run: see PEER_REASONS).
Quick mode runs the corpus's quick size and skips the peers that take seconds to import.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from fireline.domain.telemetry import Call
from fireline.scan.pii import PII_KINDS, PiiScanner
from scankit.pii_corpus import KIND_OF, Sample, load

Finding = tuple[str, int, int]  # kind, start, end
Finder = Callable[[str], Iterable[Finding]]
_T0 = datetime(2026, 1, 5, tzinfo=UTC)

PEER_REASONS = {
    "llm_guard": (
        "llm-guard 0.3.16 pins transformers 4.51.3, presidio-analyzer 2.2.358 and faker 37, "
        "which conflict with fireline's pins; its Anonymize scanner needs a model from a hub "
        "and its Secrets scanner is detect-secrets' plugins"
    ),
}


def score(samples: list[Sample], findings: list[list[Finding]]) -> dict[str, Any]:
    """Precision and recall over the structured kinds, overall and per kind."""
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    exact = 0
    other: Counter[str] = Counter()
    for sample, found in zip(samples, findings, strict=True):
        unmatched = list(sample.gold)
        for kind, start, end in found:
            if kind not in PII_KINDS:
                other[kind] += 1
                continue
            match = next(
                (g for g in unmatched if g.kind == kind and start < g.end and g.start < end), None
            )
            if match is None:
                fp[kind] += 1
                continue
            unmatched.remove(match)
            tp[kind] += 1
            exact += (start, end) == (match.start, match.end)
        for gold in unmatched:
            fn[gold.kind] += 1

    def pr(t: int, f: int, n: int) -> dict[str, Any]:
        return {
            "precision": round(t / (t + f), 4) if t + f else None,
            "recall": round(t / (t + n), 4) if t + n else None,
            "tp": t,
            "fp": f,
            "fn": n,
        }

    kinds = sorted(KIND_OF.values())
    total = pr(sum(tp.values()), sum(fp.values()), sum(fn.values()))
    no_phone = [k for k in kinds if k != "phone"]
    return {
        "pii_precision": total["precision"],
        "pii_recall": total["recall"],
        "without_phone": pr(*(sum(c[k] for k in no_phone) for c in (tp, fp, fn))),
        "per_kind": {k: pr(tp[k], fp[k], fn[k]) for k in kinds},
        "exact_span_share": round(exact / max(1, sum(tp.values())), 4),
        "other_findings": dict(other),
    }


def _speed(finder: Finder, texts: list[str], budget_s: float) -> dict[str, float]:
    """Texts per second on one core, over at most `budget_s` seconds of repeats.

    Measured in this process's CPU time, which other work on a shared machine does not
    inflate the way it does wall-clock time (both are reported).
    """
    done, cpu, wall = 0, time.process_time(), time.perf_counter()
    while True:
        for text in texts:
            list(finder(text))
        done += len(texts)
        cpu_s, wall_s = time.process_time() - cpu, time.perf_counter() - wall
        if wall_s >= budget_s:
            return {
                "calls_per_s": round(done / cpu_s, 1),
                "us_per_call": round(cpu_s / done * 1e6, 1),
                "calls_per_s_wall": round(done / wall_s, 1),
            }


def _evaluate(finder: Finder, samples: list[Sample], budget_s: float) -> dict[str, Any]:
    start = time.perf_counter()
    findings = [list(finder(s.text)) for s in samples]
    first_pass = time.perf_counter() - start
    result = score(samples, findings)
    result.update(_speed(finder, [s.text for s in samples], budget_s))
    result["first_pass_s"] = round(first_pass, 3)
    return result


def _fireline() -> Finder:
    scanner = PiiScanner()

    def find(text: str) -> list[Finding]:
        call = Call(call_id="bench", time=_T0, feature="bench", output_text=text)
        return [(h.kind, h.start or 0, h.end or 0) for h in scanner.scan(call)]

    return find


_PRESIDIO_KINDS = {**KIND_OF, "IBAN_CODE": "iban"}


def _quiet_tldextract() -> None:
    # Presidio's e-mail check calls tldextract, which would fetch the public suffix list from
    # the web; the list shipped inside tldextract is enough.
    import tldextract

    offline = tldextract.TLDExtract(suffix_list_urls=())
    tldextract.extract = offline  # type: ignore[assignment]


def _presidio_recognizers() -> Finder:
    _quiet_tldextract()
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        UsSsnRecognizer,
    )

    recognizers = [
        CreditCardRecognizer(),
        EmailRecognizer(),
        IbanRecognizer(),
        IpRecognizer(),
        PhoneRecognizer(),
        UsSsnRecognizer(),
    ]

    def find(text: str) -> list[Finding]:
        out = []
        for recognizer in recognizers:
            for r in recognizer.analyze(text, recognizer.supported_entities, None):
                if r.entity_type in _PRESIDIO_KINDS:
                    out.append((_PRESIDIO_KINDS[r.entity_type], r.start, r.end))
        return out

    return find


def _presidio_engine() -> Finder:
    import tempfile

    import spacy

    _quiet_tldextract()
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    # A blank English pipeline (tokenizer only) saved to disk: Presidio loads it by path and
    # downloads nothing. It has no NER, which the structured kinds do not need.
    path = tempfile.mkdtemp(prefix="blank-en-")
    spacy.blank("en").to_disk(path)
    engine = AnalyzerEngine(
        nlp_engine=SpacyNlpEngine(models=[{"lang_code": "en", "model_name": path}]),
        supported_languages=["en"],
    )
    entities = sorted(_PRESIDIO_KINDS)

    def find(text: str) -> list[Finding]:
        results = engine.analyze(text, language="en", entities=entities)
        return [(_PRESIDIO_KINDS[r.entity_type], r.start, r.end) for r in results]

    return find


def _scrubadub() -> Finder:
    import scrubadub

    scrubber = scrubadub.Scrubber()
    kinds = {
        "email": "email",
        "phone": "phone",
        "credit_card": "payment_card",
        "social_security_number": "us_ssn",
    }

    def find(text: str) -> list[Finding]:
        return [(kinds[f.type], f.beg, f.end) for f in scrubber.iter_filth(text) if f.type in kinds]

    return find


def _datafog() -> Finder:
    import datafog

    kinds = {
        "EMAIL": "email",
        "PHONE": "phone",
        "CREDIT_CARD": "payment_card",
        "SSN": "us_ssn",
        "IP_ADDRESS": "ip_address",
        "IBAN": "iban",
    }

    def find(text: str) -> list[Finding]:
        found = datafog.scan(text).entities
        return [(kinds[e.type], e.start, e.end) for e in found if e.type in kinds]

    return find


PEERS: dict[str, tuple[Callable[[], Finder], bool]] = {
    # name: (factory, runs in quick mode)
    "presidio_recognizers": (_presidio_recognizers, False),
    "presidio_analyzer_engine": (_presidio_engine, False),
    "scrubadub": (_scrubadub, False),
    "datafog": (_datafog, True),
}


def run(quick: bool) -> dict[str, Any]:
    """The benchmark's results: fireline's scanner and its peers on the same corpus."""
    samples = load(quick)
    budget = 1.0 if quick else 5.0
    result: dict[str, Any] = {
        "corpus": {
            "calls": len(samples),
            "by_source": dict(Counter(s.source for s in samples)),
            "labels": dict(Counter(g.kind for s in samples for g in s.gold)),
            "mean_chars": round(sum(len(s.text) for s in samples) / len(samples), 1),
        },
    }
    result.update(_evaluate(_fireline(), samples, budget))
    peers: dict[str, Any] = {}
    peer_samples = samples if not quick else samples[:60]
    for name, (factory, in_quick) in PEERS.items():
        if quick and not in_quick:
            peers[name] = {"skipped": "quick mode (imports take seconds)"}
            continue
        try:
            start = time.perf_counter()
            finder = factory()
            setup = round(time.perf_counter() - start, 2)
            peers[name] = {**_evaluate(finder, peer_samples, budget / 2), "setup_s": setup}
        except Exception as error:
            peers[name] = {"error": f"{type(error).__name__}: {error}"[:300]}
    peers.update({name: {"not_run": reason} for name, reason in PEER_REASONS.items()})
    result["peers"] = peers
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(json.dumps(run(args.quick), indent=2))


if __name__ == "__main__":
    main()
