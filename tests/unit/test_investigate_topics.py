"""Input topics: inputs of affected and baseline calls are clustered together into topics named
by their characteristic words, deterministically, and tested like any other attribute value."""

from __future__ import annotations

import doctest
import time

import numpy as np

from fireline.investigate import topics as topics_module
from fireline.investigate.segments import ValueCount, in_common
from fireline.investigate.topics import (
    DIMENSION,
    Topics,
    topic_count,
    topic_counts,
    topics,
    usable,
    words,
)

SUBJECTS = {
    "refund": [
        "How do I get a refund for order {n}?",
        "I want a refund for order {n}, it never arrived",
        "Refund request for order {n}: the item was damaged",
        "When will the refund for order {n} reach my card?",
    ],
    "password": [
        "I forgot my password, how do I reset the password? ({n})",
        "The password reset link {n} does not work",
        "Cannot log in: reset my password for account {n}",
    ],
    "shipping": [
        "Where is my parcel {n}? The shipping tracking shows nothing",
        "How long does shipping take for parcel {n} to Canada?",
        "Shipping tracking for parcel {n} is stuck",
    ],
    "invoice": [
        "Please send the invoice for purchase {n} as a PDF",
        "The invoice for purchase {n} has the wrong billing address",
        "Where can I download the invoice for purchase {n}?",
    ],
}


def inputs(subject: str, count: int, rng: np.random.Generator) -> list[str]:
    templates = SUBJECTS[subject]
    return [
        templates[int(rng.integers(len(templates)))].format(n=int(rng.integers(10_000)))
        for _ in range(count)
    ]


def test_clearly_different_subjects_fall_into_different_topics_named_by_their_words() -> None:
    rng = np.random.default_rng(1)
    affected = inputs("refund", 60, rng)
    baseline = [text for subject in SUBJECTS for text in inputs(subject, 60, rng)]
    found = topics(affected, baseline)
    assert len(found.labels) == 8
    assert len(set(found.labels)) == 8
    subjects = ["refund"] * 60 + [s for s in SUBJECTS for _ in range(60)]
    of_topic: dict[int, set[str]] = {}
    for topic, subject in zip(found.affected + found.baseline, subjects, strict=True):
        of_topic.setdefault(topic, set()).add(subject)
    assert all(len(mixed) == 1 for mixed in of_topic.values()), of_topic
    for subject in SUBJECTS:
        assert any(subject in label.split() for label in found.labels), found.labels
    for label in found.labels:
        assert 1 <= len(label.split()) <= 3
        assert not {"how", "the", "for", "my"} & set(label.split())


def test_the_same_inputs_give_the_same_topics_and_labels_every_time() -> None:
    rng = np.random.default_rng(2)
    affected = inputs("refund", 40, rng) + inputs("invoice", 10, rng)
    baseline = [text for subject in SUBJECTS for text in inputs(subject, 50, rng)]
    first = topics(affected, baseline)
    again = topics(list(affected), list(baseline))
    assert first == again
    assert topic_counts(first) == topic_counts(again)


def test_empty_and_redacted_inputs_are_skipped_and_left_out_of_the_totals() -> None:
    rng = np.random.default_rng(3)
    affected: list[str | None] = [*inputs("refund", 20, rng), None, "", "[REDACTED]"]
    baseline: list[str | None] = [*inputs("password", 20, rng), "[EMAIL] [PHONE]", None]
    found = topics(affected, baseline, k=2)
    assert found.affected[-3:] == [-1, -1, -1]
    assert found.baseline[-2:] == [-1, -1]
    counts = topic_counts(found)
    assert {c.affected_total for c in counts} == {20}
    assert {c.baseline_total for c in counts} == {20}
    assert usable("Email [EMAIL] about refunds") == "Email  about refunds"
    assert "email" not in words(usable("[EMAIL] refund") or "")


def test_there_are_fewer_topics_when_there_are_few_distinct_inputs() -> None:
    assert topic_count(0) == 0
    assert topic_count(4) == 2
    assert topic_count(1_000, k=8) == 8
    found = topics(["refund please"] * 10, ["refund please!"] * 10)
    assert found.labels == ["refund"]
    assert set(found.affected + found.baseline) == {0}
    assert topics([], []) == Topics([], [], [])
    assert topics([None], ["[EMAIL]"]) == Topics([], [-1], [-1])


def test_a_topic_the_failures_concentrate_on_is_a_significant_segment_in_common() -> None:
    rng = np.random.default_rng(4)
    affected = inputs("refund", 45, rng) + inputs("shipping", 5, rng)
    baseline = [text for subject in SUBJECTS for text in inputs(subject, 100, rng)]
    counts = topic_counts(topics(affected, baseline))
    assert all(c.dimension == DIMENSION for c in counts)
    others = [ValueCount("tenant", "acme", 50, 400)]
    found = in_common(counts + others, affected_total=50, baseline_total=400)
    significant = [f for f in found if f.significant]
    assert {f.dimension for f in significant} == {"topic"}
    assert any("refund" in f.value.split() for f in significant)
    assert abs(sum(f.share_affected for f in significant) - 0.9) < 1e-9
    assert not [f for f in found if "shipping" in f.value.split() and f.significant]


def test_many_long_inputs_are_clustered_quickly() -> None:
    rng = np.random.default_rng(5)
    filler = " and some more words about the situation" * 8
    affected = [t + filler for t in inputs("refund", 5_000, rng)]
    baseline = [t + filler for s in SUBJECTS for t in inputs(s, 1_250, rng)]
    started = time.perf_counter()
    found = topics(affected, baseline)
    assert time.perf_counter() - started < 30
    assert len(found.labels) == 8
    assert -1 not in found.affected


def test_the_examples_in_the_docstrings_hold() -> None:
    result = doctest.testmod(topics_module, raise_on_error=False, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0
