"""NAB v1.0 scoring, implemented from its papers and documented rules (no NAB code).

Per row, NAB fixes the credit a detection there would earn: inside an anomaly window, the
scaled sigmoid of its position relative to the window's end (a detection on the window's
first row earns exactly the profile's tpWeight); outside every window, a penalty of
fpWeight times the scaled sigmoid of its distance after the preceding window (the full
fpWeight before the first window). At a threshold, only the earliest detection of a window
counts; a window without one costs fnWeight. Rows of the probationary period are ignored.
The threshold is swept over every distinct anomaly score of the corpus and the best corpus
total is normalized: null detector 0, perfect detector 100.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .corpus import CostMatrix, Series

PROBATION_FRACTION = 0.15
#: NAB caps the probationary period at 15 % of 5000 rows.
PROBATION_CAP_ROWS = 5000


def scaled_sigmoid(x: np.ndarray | float) -> np.ndarray:
    """NAB's `2 / (1 + e^(5x)) - 1`, and -1 from `x >= 3` on (far after a window)."""
    x = np.asarray(x, dtype=float)
    return np.where(x >= 3.0, -1.0, 2.0 / (1.0 + np.exp(5.0 * np.minimum(x, 3.0))) - 1.0)


MAX_TP = float(scaled_sigmoid(-1.0))


def probation_length(n_rows: int) -> int:
    """Rows at the start of a file whose detections NAB does not score."""
    return int(
        min(math.floor(PROBATION_FRACTION * n_rows), PROBATION_FRACTION * PROBATION_CAP_ROWS)
    )


@dataclass(frozen=True)
class Layout:
    """Per row of one file: its window (-1 outside), and unit credits of a detection there."""

    window: np.ndarray
    #: inside a window: sigmoid(position) / sigmoid(-1), in (0, 1]; 0 outside.
    tp_credit: np.ndarray
    #: outside windows: the (negative) sigmoid of the distance after the last window; 0 inside.
    fp_credit: np.ndarray
    #: False for rows of the probationary period.
    scored: np.ndarray


def layout(series: Series) -> Layout:
    """The row credits of one file."""
    n = len(series)
    rows = np.arange(n)
    window = np.full(n, -1)
    tp_credit = np.zeros(n)
    fp_credit = np.full(n, -1.0)  # before the first window: a full false positive
    for k, (first, last) in enumerate(series.windows):
        width = last - first + 1
        inside = rows[first : last + 1]
        window[first : last + 1] = k
        tp_credit[first : last + 1] = scaled_sigmoid(-(last - inside + 1) / width) / MAX_TP
        fp_credit[first : last + 1] = 0.0
        end = series.windows[k + 1][0] if k + 1 < len(series.windows) else n
        after = rows[last + 1 : end]
        fp_credit[last + 1 : end] = scaled_sigmoid(np.abs(last - after) / (width - 1))
    return Layout(window, tp_credit, fp_credit, rows >= probation_length(n))


@dataclass(frozen=True)
class ProfileScore:
    """A detector's result under one profile: its best threshold, raw and normalized score."""

    threshold: float
    raw: float
    normalized: float


def normalize(raw: float, n_windows: int, cost: CostMatrix) -> float:
    """100 * (raw - null) / (perfect - null): the null detector scores 0, the perfect 100."""
    null, perfect = -cost.fn * n_windows, cost.tp * n_windows
    return 100.0 * (raw - null) / (perfect - null)


def score_at(
    corpus: Sequence[Series], scores: Mapping[str, np.ndarray], threshold: float, cost: CostMatrix
) -> float:
    """The raw corpus score at one threshold, rule by rule (the reference for `sweep`)."""
    total = 0.0
    for series in corpus:
        lay = layout(series)
        detected = lay.scored & (np.asarray(scores[series.key]) >= threshold)
        total += cost.fp * float(lay.fp_credit[detected & (lay.window < 0)].sum())
        for k in range(len(series.windows)):
            hits = np.flatnonzero(detected & (lay.window == k))
            total += cost.tp * lay.tp_credit[hits[0]] if hits.size else -cost.fn
    return total


def sweep(
    corpus: Sequence[Series], scores: Mapping[str, np.ndarray], cost: CostMatrix
) -> tuple[float, float]:
    """The threshold maximising the raw corpus score, and that score.

    Lowering the threshold past a row adds that row's change to the total: its false-positive
    penalty, or, inside a window, the gain in the window's credit when it becomes the
    window's earliest detection (plus fnWeight for the window's first detection at all).
    Thresholds are the distinct anomaly scores; above them all, nothing is detected.
    """
    parts, offset = [], 0
    for series in corpus:
        lay = layout(series)
        keep = lay.scored
        window = np.where(lay.window[keep] >= 0, lay.window[keep] + offset, -1)
        parts.append((np.asarray(scores[series.key], float)[keep], window, lay, keep))
        offset += len(series.windows)
    score = np.concatenate([p[0] for p in parts])
    window = np.concatenate([p[1] for p in parts])
    tp = np.concatenate([p[2].tp_credit[p[3]] for p in parts])
    fp = np.concatenate([p[2].fp_credit[p[3]] for p in parts])
    n_windows = offset

    delta = np.where(window < 0, cost.fp * fp, 0.0)
    inside = np.flatnonzero(window >= 0)
    # Within each window, in order of falling anomaly score: running best credit.
    order = inside[np.lexsort((-score[inside], window[inside]))]
    group = window[order]
    best = np.maximum.accumulate(tp[order] + 2.0 * group) - 2.0 * group
    first = np.r_[True, group[1:] != group[:-1]]
    gain = np.where(first, cost.fn + cost.tp * best, cost.tp * (best - np.r_[0.0, best[:-1]]))
    delta[order] = gain

    falling = np.argsort(-score, kind="stable")
    totals = -cost.fn * n_windows + np.cumsum(delta[falling])
    ranked = score[falling]
    last_of_tie = np.r_[ranked[1:] != ranked[:-1], True]
    candidates = totals[last_of_tie]
    thresholds = ranked[last_of_tie]
    i = int(np.argmax(candidates))
    null = -cost.fn * n_windows
    if candidates[i] <= null:
        return float(ranked[0]) + 1.0 if ranked.size else 1.0, null
    return float(thresholds[i]), float(candidates[i])


def score_corpus(
    corpus: Sequence[Series], scores: Mapping[str, np.ndarray], profiles: Mapping[str, CostMatrix]
) -> dict[str, ProfileScore]:
    """Each profile's optimal threshold, raw and normalized score over the corpus."""
    n_windows = sum(len(series.windows) for series in corpus)
    result = {}
    for name, cost in profiles.items():
        threshold, raw = sweep(corpus, scores, cost)
        result[name] = ProfileScore(threshold, raw, normalize(raw, n_windows, cost))
    return result
