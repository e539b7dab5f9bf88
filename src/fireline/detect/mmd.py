"""Embedding drift of input texts by the maximum mean discrepancy (MMD) and a permutation test."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from fireline.detect.base import DEFAULT_FALSE_ALARMS_PER_30_DAYS, SignalKind, Window
from fireline.detect.drift_base import Comparison, DriftDetector
from fireline.detect.drift_samples import decode_array, encode_array, subsample_rows
from fireline.detect.embeddings import Embedder, minilm_embed

#: Embeddings are kept at half precision: ample for distances, and half the state.
Embeddings = NDArray[np.float16]
#: Permutations drawn at a time.
_BATCH = 500


class MMDDriftDetector(DriftDetector[Embeddings]):
    """Alarms when what users write moves away from what they wrote before (prompts, queries).

    Texts are embedded by `embedder` (all-MiniLM-L6-v2, from fireline's `embeddings` extra,
    by default). Every bucket, the embeddings of the last `window_s` seconds are compared with
    those of the `baseline_s` seconds before by the squared maximum mean discrepancy (MMD)
    with the RBF kernel exp(−d² / h), h the median squared distance between the pooled
    embeddings (the median heuristic). The p-value comes from random relabellings of the
    pooled sample: at least `permutations`, and as many as the level of the decision needs
    (it spreads `false_alarms_per_30_days` over 30 days of decisions: some 720 for hourly buckets,
    43,200 for minutes), drawn only when the effect is large enough to matter and stopped as
    soon as the p-value cannot reach the level, so the test is exact and mostly cheap.

    An alarm also needs the unbiased squared MMD to reach `min_effect`, and `min_recent`
    recent and `min_reference` reference texts. With all-MiniLM-L6-v2, texts on another topic
    altogether score about 0.27, half of them on another topic 0.07, the same questions in
    other words 0.05: the default 0.1 pages on a change of what users ask about, not of how
    they word it. Each bucket keeps a random subsample, so the window holds about `max_recent`
    texts and the reference `max_reference`; only those are embedded. While alarmed the
    reference is frozen; the alarm clears once the last `recovery_s` is no longer different
    at level `recovery_p`.

    >>> from datetime import datetime, timedelta, UTC
    >>> from fireline.detect.base import Window
    >>> from fireline.detect.embeddings import hashing_embed
    >>> detector = MMDDriftDetector(embedder=hashing_embed)
    >>> t0, hour = datetime(2026, 1, 1, tzinfo=UTC), timedelta(hours=1)
    >>> billing = ("why was my card charged twice", "how do I get a refund for my invoice")
    >>> for i in range(30):  # a day and more of billing questions
    ...     detector.update(Window(t0 + i * hour, t0 + (i + 1) * hour, texts=billing * 10))
    >>> detector.drift_detected
    False
    >>> gardening = ("when do I plant tomatoes", "how often should orchids be watered")
    >>> for i in range(30, 32):  # a new app version sends another feature's prompts
    ...     detector.update(Window(t0 + i * hour, t0 + (i + 1) * hour, texts=gardening * 10))
    >>> detector.drift_detected, detector.evidence["current"] < detector.evidence["baseline"]
    (True, True)
    """

    name: ClassVar[str] = "mmd_embedding_drift"
    kinds: ClassVar[frozenset[SignalKind]] = frozenset({SignalKind.TEXT})
    test: ClassVar[str] = "maximum mean discrepancy of embeddings (RBF kernel, permutations)"

    def __init__(
        self,
        *,
        embedder: Embedder = minilm_embed,
        window_s: int = 3 * 3_600,
        baseline_s: int = 86_400,
        recovery_s: int = 3 * 3_600,
        false_alarms_per_30_days: float = DEFAULT_FALSE_ALARMS_PER_30_DAYS,
        min_recent: int = 30,
        min_reference: int = 100,
        min_effect: float = 0.1,
        recovery_p: float = 0.05,
        max_recent: int = 100,
        max_reference: int = 200,
        permutations: int = 200,
        seed: int = 0,
    ) -> None:
        if permutations < 1:
            raise ValueError("permutations must be positive")
        super().__init__(
            window_s=window_s,
            baseline_s=baseline_s,
            recovery_s=recovery_s,
            false_alarms_per_30_days=false_alarms_per_30_days,
            min_recent=min_recent,
            min_reference=min_reference,
            min_effect=min_effect,
            recovery_p=recovery_p,
            max_recent=max_recent,
            max_reference=max_reference,
            seed=seed,
        )
        self.embedder = embedder
        self.permutations = permutations

    def _payload(self, x: Window, cap: int | None, rng: np.random.Generator) -> Embeddings:
        texts = [x.texts[i] for i in subsample_rows(np.arange(len(x.texts)), cap, rng)]
        if not texts:
            return np.empty((0, 0), dtype=np.float16)
        return np.asarray(self.embedder(texts), dtype=np.float16)

    def _pool(self, payloads: list[Embeddings]) -> Embeddings:
        rows = [p for p in payloads if len(p)]
        return np.vstack(rows) if rows else np.empty((0, 0), dtype=np.float16)

    def _volume(self, payload: Embeddings) -> int:
        return len(payload)

    def _subsample(
        self, payload: Embeddings, cap: int | None, rng: np.random.Generator
    ) -> Embeddings:
        return subsample_rows(payload, cap, rng)

    def _encode(self, payload: Embeddings) -> Any:
        return encode_array(payload)

    def _decode(self, data: Any) -> Embeddings:
        return decode_array(data, np.float16)

    def _statistic(self, reference: Embeddings, recent: Embeddings) -> float:
        kernel, _ = rbf_kernel(reference, recent)
        s = _weights(len(reference), len(recent))
        return float(s @ kernel @ s)

    def _compare(
        self, reference: Embeddings, recent: Embeddings, alpha: float, rng: np.random.Generator
    ) -> Comparison:
        m, n = len(reference), len(recent)
        kernel, bandwidth = rbf_kernel(reference, recent)
        s = _weights(m, n)
        statistic = float(s @ kernel @ s)  # the biased estimate, which the permutations test
        xx, yy, xy = kernel[:m, :m], kernel[m:, m:], kernel[:m, m:]
        # The unbiased estimate: without the kernel's diagonal, which is 1 for an RBF kernel.
        effect = (xx.sum() - m) / (m * (m - 1)) + (yy.sum() - n) / (n * (n - 1)) - 2 * xy.mean()
        p_value = threshold = None
        drawn = 0
        if effect >= self.min_effect:  # permutations only when the difference would matter
            p_value, threshold, drawn = permutation_test(
                kernel, s, statistic, alpha, self.permutations, rng
            )
        baseline, current = _typicality(reference, recent)
        return Comparison(
            statistic=statistic,
            effect=float(effect),
            p_value=p_value,
            threshold=threshold,
            baseline=baseline,
            current=current,
            details={"bandwidth": bandwidth, "permutations": drawn},
        )


def rbf_kernel(reference: Embeddings, recent: Embeddings) -> tuple[NDArray[np.float32], float]:
    """The RBF kernel matrix of the pooled sample, reference first, and its squared bandwidth.

    Single precision: the embeddings are stored at half precision anyway, and it halves the cost.
    """
    z = np.vstack([reference, recent]).astype(np.float32)
    sq = np.sum(z * z, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * z @ z.T, 0.0)
    median = float(np.median(d2[np.triu_indices(len(z), 1)]))
    bandwidth = median if median > 0 else 1.0  # all texts alike: any bandwidth will do
    return np.exp(-d2 / bandwidth), bandwidth


def _weights(m: int, n: int) -> NDArray[np.float32]:
    """s with sᵀKs the (biased) squared MMD of the first m rows against the last n."""
    return np.concatenate([np.full(m, 1 / m), np.full(n, -1 / n)]).astype(np.float32)


def permutation_test(
    kernel: NDArray[np.float32],
    s: NDArray[np.float32],
    statistic: float,
    alpha: float,
    least: int,
    rng: np.random.Generator,
) -> tuple[float, float, int]:
    """Permutation p-value of sᵀKs, its critical value at `alpha`, and the permutations drawn.

    Draws at least `least` relabellings, and as many as a p-value of `alpha` takes
    (1 / `alpha` − 1), in batches; it stops early once p cannot come down to `alpha` any more,
    which under no drift is soon. A p-value that reaches `alpha` is then exact.
    """
    needed = max(least, math.ceil(1 / alpha) - 1)
    nulls: list[NDArray[np.float32]] = []
    exceed = drawn = 0
    while drawn < needed:
        batch = min(least if drawn == 0 else _BATCH, needed - drawn)
        signs = rng.permuted(np.repeat(s[:, None], batch, axis=1), axis=0)
        nulls.append(np.einsum("ib,ib->b", signs, kernel @ signs))
        exceed += int(np.sum(nulls[-1] >= statistic))
        drawn += batch
        if drawn >= least and (1 + exceed) / (needed + 1) > alpha:
            break
    critical = float(np.quantile(np.concatenate(nulls), 1 - alpha))
    return (1 + exceed) / (drawn + 1), critical, drawn


def _typicality(reference: Embeddings, recent: Embeddings) -> tuple[float, float]:
    """Mean cosine similarity of reference and of recent texts to the reference's centroid."""
    ref, cur = reference.astype(np.float64), recent.astype(np.float64)
    centroid = ref.mean(axis=0)
    centroid /= max(float(np.linalg.norm(centroid)), 1e-12)

    def mean_cosine(rows: NDArray[np.float64]) -> float:
        norms = np.maximum(np.linalg.norm(rows, axis=1), 1e-12)
        return float(np.mean(rows @ centroid / norms))

    return mean_cosine(ref), mean_cosine(cur)
