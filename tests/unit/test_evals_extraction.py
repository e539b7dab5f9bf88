"""Picking diverse cases: duplicates dropped, one medoid from every cluster."""

from __future__ import annotations

import doctest
import importlib

import numpy as np
import pytest

from fireline.evals.diversity import (
    cluster_count,
    deduplicated,
    diverse,
    hashing_vectors,
    kmeans,
    medoids,
)

MODULES = [
    "fireline.evals.assertions",
    "fireline.evals.diversity",
    "fireline.evals.jsonl",
    "fireline.evals.model",
    "fireline.evals.runner",
    "fireline.evals.targets",
]


@pytest.mark.parametrize("name", MODULES)
def test_the_examples_in_each_evals_module_run(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0
    assert result.attempted > 0


def test_inputs_equal_once_normalised_are_one_case_counted_as_many() -> None:
    texts = ["Where is my order?", "where is my order", "WHERE  is my ORDER!!", "Cancel it"]
    assert deduplicated(texts) == [("Where is my order?", 3), ("Cancel it", 1)]


def test_the_hashing_vectoriser_is_deterministic_and_unit_length() -> None:
    first = hashing_vectors(["refund for order 12", "", "weather in Paris"])
    again = hashing_vectors(["refund for order 12", "", "weather in Paris"])
    assert np.array_equal(first, again)
    assert np.allclose(np.linalg.norm(first[[0, 2]], axis=1), 1.0)
    assert not first[1].any()


def test_between_twenty_and_fifty_clusters_are_asked_for() -> None:
    assert [cluster_count(n) for n in (5, 20, 100, 400, 5_000)] == [5, 20, 20, 40, 50]


TOPICS = [
    "refund for my broken {} please",
    "how do I reset the password of account {}",
    "what is the weather forecast for city {}",
    "translate the word {} into German",
    "write a poem about the colour {}",
]


def test_diversity_sampling_takes_a_medoid_from_every_cluster() -> None:
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(25, 8)) * 20
    points = np.vstack([c + rng.normal(size=(6, 8)) for c in centres])
    _, labels = kmeans(points, 25, seed=1)
    picked = medoids(points, labels)
    truth = np.repeat(np.arange(25), 6)
    assert len(picked) == 25
    assert {int(truth[i]) for i, _ in picked} == set(range(25))
    assert sum(size for _, size in picked) == len(points)


def test_diverse_inputs_cover_every_topic_and_stay_within_bounds() -> None:
    texts = [t.format(f"item{i}") for t in TOPICS for i in range(40)]
    picked = diverse(texts, low=20, high=50)
    assert 20 <= len(picked) <= 50
    assert len({i for i, _ in picked}) == len(picked)
    covered = {next(k for k, t in enumerate(TOPICS) if t.split()[0] in texts[i]) for i, _ in picked}
    assert covered == set(range(len(TOPICS)))


def test_fewer_inputs_than_the_minimum_are_all_kept() -> None:
    assert diverse(["a", "b", "c"]) == [(0, 1), (1, 1), (2, 1)]
