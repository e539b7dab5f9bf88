"""Picking diverse cases: drop duplicate inputs, embed the rest, cluster them with k-means and
keep the medoid of each cluster. Pure functions over numpy; deterministic for a seed.

>>> unique = deduplicated(["Hello  World", "hello world!", "other"])
>>> [(text, count) for text, count in unique]
[('Hello  World', 2), ('other', 1)]
>>> vectors = hashing_vectors(["refund my order", "refund my order please", "weather"])
>>> vectors.shape
(3, 4096)
>>> bool(vectors[0] @ vectors[1] > vectors[0] @ vectors[2])
True
>>> cluster_count(10), cluster_count(200), cluster_count(10_000)
(10, 29, 50)
"""

from __future__ import annotations

import itertools
import math
import re
import unicodedata
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: Dimensions of the hashing vectoriser (2^12).
DIM = 1 << 12
MIN_CASES = 20
MAX_CASES = 50
_WORD = re.compile(r"\w+", re.UNICODE)
_SPACE = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)

Vectors = NDArray[np.float64]
Embed = Callable[[Sequence[str]], NDArray[Any]]


def normalised(text: str) -> str:
    """The text as duplicates compare: case-folded, NFKC, punctuation and runs of space gone.

    >>> normalised("  Where's   MY order?! ")
    'wheres my order'
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _SPACE.sub(" ", _PUNCT.sub("", folded)).strip()


def deduplicated(texts: Sequence[str]) -> list[tuple[str, int]]:
    """The first of each group of texts equal once normalised, and how many the group had."""
    first: dict[str, str] = {}
    counts: dict[str, int] = {}
    for text in texts:
        key = normalised(text)
        first.setdefault(key, text)
        counts[key] = counts.get(key, 0) + 1
    return [(first[key], counts[key]) for key in first]


def _bucket(feature: str) -> int:
    return zlib.crc32(feature.encode("utf-8"))


def hashing_vectors(texts: Sequence[str], dim: int = DIM) -> Vectors:
    """Unit-length vectors of word 1-2-grams and character 3-5-grams, hashed into `dim`
    buckets with a sign bit (no model, no vocabulary: the same text always gives the same
    vector)."""
    out = np.zeros((len(texts), dim), dtype=np.float64)
    for row, text in enumerate(texts):
        words = _WORD.findall(normalised(text))
        grams = [f"w:{w}" for w in words]
        grams += [f"b:{a} {b}" for a, b in itertools.pairwise(words)]
        joined = f" {' '.join(words)} "
        for n in (3, 4, 5):
            grams += [f"c:{joined[i : i + n]}" for i in range(max(len(joined) - n + 1, 0))]
        for gram in grams:
            h = _bucket(gram)
            out[row, h % dim] += 1.0 if (h >> 31) & 1 == 0 else -1.0
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    unit: Vectors = np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)
    return unit


def cluster_count(n: int, low: int = MIN_CASES, high: int = MAX_CASES) -> int:
    """How many clusters (cases) for `n` distinct inputs: 2·√n within [low, high], at most n."""
    return min(n, high, max(low, math.ceil(2 * math.sqrt(n))))


def kmeans(
    vectors: Vectors, k: int, *, seed: int = 0, iterations: int = 50, restarts: int = 4
) -> tuple[Vectors, NDArray[np.int64]]:
    """Centroids and labels by k-means (k-means++ seeding, Lloyd's iterations), the best
    (least within-cluster distance) of `restarts` runs.

    >>> x = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])
    >>> _, labels = kmeans(x, 2)
    >>> bool(labels[0] == labels[1] != labels[2] == labels[3])
    True
    """
    n = len(vectors)
    if n == 0 or k <= 0:
        return np.zeros((0, vectors.shape[1] if vectors.ndim == 2 else 0)), np.zeros(0, np.int64)
    rng = np.random.default_rng(seed)
    best: tuple[float, Vectors, NDArray[np.int64]] | None = None
    for _ in range(max(1, restarts)):
        centroids, labels = _lloyd(vectors, min(k, n), rng, iterations)
        inertia = float(_squared_distances(vectors, centroids)[np.arange(n), labels].sum())
        if best is None or inertia < best[0]:
            best = (inertia, centroids, labels)
    assert best is not None
    return best[1], best[2]


def _lloyd(
    vectors: Vectors, k: int, rng: np.random.Generator, iterations: int
) -> tuple[Vectors, NDArray[np.int64]]:
    n = len(vectors)
    centres = [int(rng.integers(n))]
    nearest = ((vectors - vectors[centres[0]]) ** 2).sum(axis=1)
    while len(centres) < k:
        total = float(nearest.sum())
        if total <= 0:  # fewer distinct points than k: take any not yet chosen
            pick = next(i for i in range(n) if i not in set(centres))
        else:
            pick = int(rng.choice(n, p=nearest / total))
        centres.append(pick)
        nearest = np.minimum(nearest, ((vectors - vectors[pick]) ** 2).sum(axis=1))
    centroids = vectors[centres].copy()
    labels = np.zeros(n, dtype=np.int64)
    for step in range(iterations):
        new = _squared_distances(vectors, centroids).argmin(axis=1).astype(np.int64)
        if step and np.array_equal(new, labels):
            break
        labels = new
        for c in range(k):
            members = vectors[labels == c]
            if len(members):
                centroids[c] = members.mean(axis=0)
    return centroids, labels


def _squared_distances(a: Vectors, b: Vectors) -> Vectors:
    sq = (a * a).sum(axis=1)[:, None] - 2 * a @ b.T + (b * b).sum(axis=1)[None, :]
    positive: Vectors = np.maximum(sq, 0.0)
    return positive


def medoids(vectors: Vectors, labels: NDArray[np.int64]) -> list[tuple[int, int]]:
    """For each non-empty cluster, the index of the member with the least total distance to
    the others, and the cluster's size; in order of first member.

    >>> x = np.array([[0.0], [1.0], [1.2], [9.0]])
    >>> medoids(x, np.array([0, 0, 0, 1]))
    [(1, 3), (3, 1)]
    """
    found: list[tuple[int, int]] = []
    for label in dict.fromkeys(int(v) for v in labels):
        members = np.flatnonzero(labels == label)
        inside = vectors[members]
        total = np.sqrt(_squared_distances(inside, inside)).sum(axis=1)
        found.append((int(members[int(total.argmin())]), len(members)))
    return found


def embedder(name: str = "hashing") -> tuple[str, Embed]:
    """The vectoriser called `name` ("hashing", "minilm" or "auto": the sentence-embedding
    model of the `embeddings` extra if installed, else hashing) and the name of the one used.

    >>> embedder("hashing")[0]
    'hashing'
    """
    if name in ("minilm", "auto"):
        try:
            from fireline.detect.embeddings import minilm_embed

            minilm_embed(["probe"])
            return "minilm", minilm_embed
        except ImportError:
            if name == "minilm":
                raise
    return "hashing", hashing_vectors


def diverse(
    texts: Sequence[str],
    *,
    low: int = MIN_CASES,
    high: int = MAX_CASES,
    embed: Embed = hashing_vectors,
    seed: int = 0,
) -> list[tuple[int, int]]:
    """Indices of diverse `texts` (one per cluster: the medoid) and each one's cluster size.
    All of them when there are no more than `low`."""
    if len(texts) <= low:
        return [(i, 1) for i in range(len(texts))]
    vectors = np.asarray(embed(texts), dtype=np.float64)
    _, labels = kmeans(vectors, cluster_count(len(texts), low, high), seed=seed)
    return medoids(vectors, labels)
