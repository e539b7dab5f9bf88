"""Input topics: the input texts of affected and baseline calls clustered together into a few
topics (hashing vectors and k-means from `fireline.evals.diversity`), each named by its most
characteristic words, so "what affected calls have in common" can be a kind of question.
Pure and deterministic for a seed.

>>> affected = ["How do I get a refund?", "Refund my order please", "Where is my refund"]
>>> baseline = ["Reset my password", "I forgot my password again", "Password reset link"]
>>> found = topics(affected * 3, baseline * 3, k=2)
>>> sorted(found.labels)
['password reset forgot', 'refund order']
>>> [c for c in topic_counts(found) if c.value.startswith("refund")]
[ValueCount(dimension='topic', value='refund order', affected=9, baseline=0, \
affected_total=9, baseline_total=9)]
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from fireline.investigate.segments import ValueCount

if TYPE_CHECKING:
    from types import ModuleType

#: The dimension topics are reported under.
DIMENSION = "topic"
#: Topics by default (fewer when there are few distinct inputs).
TOPICS = 8
#: Most inputs read from affected calls, and from baseline calls (a deterministic sample).
MAX_INPUTS = 5_000
#: Most distinct inputs k-means is fitted on; the others are assigned to the nearest centre.
MAX_FIT = 2_000
#: Characters of an input that are read (a topic shows at the start of a question).
MAX_CHARS = 256
#: Words in a topic's label.
LABEL_WORDS = 3
#: Shortest word that can name a topic.
MIN_WORD = 3
#: Dimensions of the hashing vectors (smaller than diversity's: many more texts, few topics).
DIM = 1 << 10
SEED = 0
_CHUNK = 1_000
#: The marks ingest redaction leaves where it masked personal data ("[EMAIL]", "[REDACTED]").
_MARK = re.compile(r"\[[A-Z][A-Z_]*\]")
_WORD = re.compile(r"\w+", re.UNICODE)
#: Words too common to name a topic (shorter words never do).
_STOP = """
about above after again against all also and any are aren because been before being below
between both but can cannot could couldn did didn does doesn doing don down during each
either else ever every few for from further get got had has hasn have haven having her here
hers herself him himself his how however into isn its itself just let like may might more
most much must myself need nor not now off once one only other ought our ours ourselves out
over own please same shall she should shouldn some such than thank thanks that the their
theirs them themselves then there these they this those through too under until upon very
want was wasn way were weren what when where whether which while who whom whose why will
with within without won would wouldn yes yet you your yours yourself yourselves hello hey
"""
STOP_WORDS = frozenset(_STOP.split())


def _diversity() -> ModuleType:
    """`fireline.evals.diversity`, imported when first used: the `fireline.evals` package
    imports investigation, so importing it at the top would be circular."""
    from fireline.evals import diversity

    return diversity


def normalised(text: str) -> str:
    """A text as diversity compares them (case-folded, no punctuation).

    >>> normalised("Where's MY refund?")
    'wheres my refund'
    """
    folded: str = _diversity().normalised(text)
    return folded


@dataclass(frozen=True, slots=True)
class Topics:
    """The topic of each affected and baseline input (an index into `labels`; -1 for an
    input that was skipped: empty or redacted), and each topic's label."""

    labels: list[str]
    affected: list[int]
    baseline: list[int]


def usable(text: str | None) -> str | None:
    """The part of an input that is clustered: its start without redaction marks; None when
    no word is left (no input, or one redacted away).

    >>> usable("Email [EMAIL] about my refund"), usable("[REDACTED]"), usable(None)
    ('Email  about my refund', None, None)
    """
    if not text:
        return None
    kept = _MARK.sub("", text[:MAX_CHARS])
    return kept if _WORD.search(kept) else None


def content(text: str) -> list[str]:
    """The words of a text that can name a topic, in order: no stop words, short words or
    numbers.

    >>> content("Where is MY refund for order 1234? The refund!")
    ['refund', 'order', 'refund']
    """
    return [
        w
        for w in _WORD.findall(normalised(text))
        if len(w) >= MIN_WORD and w not in STOP_WORDS and not w.isdigit()
    ]


def words(text: str) -> set[str]:
    """The distinct words of a text that can name a topic.

    >>> sorted(words("Where is MY refund for order 1234?"))
    ['order', 'refund']
    """
    return set(content(text))


def topic_count(distinct: int, k: int = TOPICS) -> int:
    """How many topics for `distinct` inputs: k, fewer (√distinct) when there are few.

    >>> topic_count(0), topic_count(1), topic_count(10), topic_count(10_000)
    (0, 1, 4, 8)
    """
    return min(k, math.ceil(math.sqrt(distinct))) if distinct > 0 else 0


def topics(
    affected: Sequence[str | None],
    baseline: Sequence[str | None],
    *,
    k: int = TOPICS,
    seed: int = SEED,
) -> Topics:
    """The affected and baseline inputs clustered together into at most `k` topics."""
    texts = [usable(t) for t in [*affected, *baseline]]
    keys = [None if t is None else normalised(t) for t in texts]
    first: dict[str, str] = {}
    for key, text in zip(keys, texts, strict=True):
        if key is not None and text is not None:
            first.setdefault(key, text)
    distinct = list(first)
    count = topic_count(len(distinct), k)
    if count == 0:
        return Topics([], [-1] * len(affected), [-1] * len(baseline))
    # what is clustered is the words that can name a topic (the whole text if it has none):
    # "how do I" is shared by questions about anything
    of_distinct = _cluster([" ".join(content(first[key])) or key for key in distinct], count, seed)
    index = dict(zip(distinct, of_distinct.tolist(), strict=True))
    assigned = [-1 if key is None else int(index[key]) for key in keys]
    # number the topics in order of first appearance, leaving out empty ones
    order = {c: n for n, c in enumerate(dict.fromkeys(c for c in assigned if c >= 0))}
    assigned = [order.get(c, -1) for c in assigned]
    labels = _labels(
        ((c, first[key]) for c, key in zip(assigned, keys, strict=True) if key is not None),
        len(order),
    )
    return Topics(labels, assigned[: len(affected)], assigned[len(affected) :])


def _cluster(texts: Sequence[str], k: int, seed: int) -> NDArray[np.int64]:
    """The cluster of each text: k-means fitted on a sample, every text to its nearest centre."""
    diversity = _diversity()
    vectors: NDArray[np.float64] = diversity.hashing_vectors(texts, dim=DIM)
    # weigh features by inverse document frequency, so the grams every input has ("the",
    # " my ") do not outweigh the ones that tell topics apart
    present = np.count_nonzero(vectors, axis=0)
    vectors = vectors * np.log((1 + len(texts)) / (1 + present))
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    fit = vectors
    if len(texts) > MAX_FIT:
        rng = np.random.default_rng(seed)
        fit = vectors[np.sort(rng.choice(len(texts), MAX_FIT, replace=False))]
    centroids: NDArray[np.float64] = diversity.kmeans(fit, k, seed=seed)[0]
    found = np.zeros(len(texts), dtype=np.int64)
    for start in range(0, len(texts), _CHUNK):
        chunk = vectors[start : start + _CHUNK]
        # nearest centre: the least |x - c|² is the largest x·c - |c|²/2
        closeness = chunk @ centroids.T - 0.5 * (centroids**2).sum(axis=1)
        found[start : start + _CHUNK] = closeness.argmax(axis=1)
    return found


def _labels(members: Iterable[tuple[int, str]], count: int) -> list[str]:
    """Each topic's LABEL_WORDS most characteristic words: the highest mean weight in the
    topic (the share of its inputs with the word) less the mean weight over all inputs; unique
    (a repeated label gets its topic's number)."""
    inside = [Counter[str]() for _ in range(count)]
    sizes = [0] * count
    overall = Counter[str]()
    total = 0
    for topic, text in members:
        found = words(text)
        inside[topic].update(found)
        overall.update(found)
        sizes[topic] += 1
        total += 1
    labels: list[str] = []
    for topic in range(count):
        size = sizes[topic]
        score = {w: n / size - overall[w] / total for w, n in inside[topic].items()}
        # the words more common in the topic than overall (all of them for a lone topic)
        kept = [w for w in score if score[w] > 0] or list(score)
        scored = sorted(kept, key=lambda w: (-score[w], -inside[topic][w], w))
        label = " ".join(scored[:LABEL_WORDS]) or f"topic {topic + 1}"
        if label in labels:
            label = f"{label} #{topic + 1}"
        labels.append(label)
    return labels


def topic_counts(found: Topics) -> list[ValueCount]:
    """A ValueCount per topic (dimension "topic"), out of the affected and baseline inputs
    that have a topic (not all calls: skipped inputs are left out of both totals)."""
    affected = Counter(c for c in found.affected if c >= 0)
    baseline = Counter(c for c in found.baseline if c >= 0)
    totals = sum(affected.values()), sum(baseline.values())
    return [
        ValueCount(DIMENSION, label, affected[n], baseline[n], *totals)
        for n, label in enumerate(found.labels)
    ]
