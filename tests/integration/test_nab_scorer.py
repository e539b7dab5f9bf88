"""fireline's NAB scorer (bench/nabkit) follows NAB v1.0's rules and reproduces its scoreboard.

The data is the NAB copy at ../shared/data/nab (or $FIRELINE_NAB_DIR); without it these tests
fail with a message saying where it was looked for.
"""

import numpy as np
import pytest
from bench.nabkit.corpus import (
    CostMatrix,
    Series,
    load_corpus,
    load_profiles,
    load_published_scores,
    load_scoreboard,
)
from bench.nabkit.scorer import normalize, probation_length, score_at, score_corpus, sweep

STANDARD = CostMatrix(tp=1.0, fp=0.11, fn=1.0)
PUBLISHED_NUMENTA = {"standard": 70.10, "reward_low_FP_rate": 63.12, "reward_low_FN_rate": 74.32}

# One synthetic file: 1000 rows (probation 150), one window over rows 400..499.
N, FIRST, LAST = 1000, 400, 499
FILE = Series("synthetic/one.csv", tuple(str(i) for i in range(N)), np.zeros(N), ((FIRST, LAST),))


def detections(*rows: int) -> dict[str, np.ndarray]:
    scores = np.zeros(N)
    scores[list(rows)] = 1.0
    return {FILE.key: scores}


def raw(*rows: int, cost: CostMatrix = STANDARD) -> float:
    return score_at([FILE], detections(*rows), 0.5, cost)


def test_a_detection_on_the_first_row_of_a_window_earns_the_full_true_positive_weight():
    assert raw(FIRST) == pytest.approx(1.0)


def test_a_detection_early_in_a_window_scores_more_than_one_late_in_it():
    assert raw(FIRST + 10) > raw(FIRST + 50) > raw(LAST) > 0


def test_only_the_first_detection_in_a_window_counts():
    assert raw(FIRST + 10, FIRST + 50, LAST) == raw(FIRST + 10)


def test_a_missed_window_costs_the_false_negative_weight():
    assert raw() == -1.0
    assert raw(cost=CostMatrix(tp=1.0, fp=0.11, fn=2.0)) == -2.0


def test_a_false_positive_far_from_windows_costs_the_profiles_false_positive_weight():
    assert raw(FIRST, 950) == pytest.approx(1.0 - 0.11)
    assert raw(FIRST, 950, cost=CostMatrix(tp=1.0, fp=0.22, fn=1.0)) == pytest.approx(1.0 - 0.22)
    assert raw(FIRST, 200) == pytest.approx(1.0 - 0.11)  # before the first window


def test_a_false_positive_just_after_a_window_costs_less_than_one_far_away():
    assert raw(FIRST, LAST + 2) > raw(FIRST, LAST + 60) > raw(FIRST, 950)


def test_detections_in_the_probationary_period_are_ignored():
    assert probation_length(N) == 150
    assert probation_length(20_000) == 750
    assert raw(FIRST, 10, 149) == raw(FIRST)


def test_the_null_detector_normalizes_to_0_and_the_perfect_one_to_100():
    corpus = load_corpus()
    profiles = load_profiles()
    null = {s.key: np.zeros(len(s)) for s in corpus}
    perfect = {}
    for s in corpus:
        perfect[s.key] = np.zeros(len(s))
        perfect[s.key][[first for first, _ in s.windows]] = 1.0

    for name, result in score_corpus(corpus, null, profiles).items():
        assert result.normalized == pytest.approx(0.0), name
    for name, result in score_corpus(corpus, perfect, profiles).items():
        assert result.normalized == pytest.approx(100.0), name


def test_the_sweep_finds_the_best_threshold_and_agrees_with_the_rules_there():
    rng = np.random.default_rng(5)
    corpus = load_corpus()[:12]
    scores = {s.key: rng.random(len(s)) ** 8 for s in corpus}

    threshold, best = sweep(corpus, scores, STANDARD)

    assert score_at(corpus, scores, threshold, STANDARD) == pytest.approx(best)
    for t in np.quantile(np.concatenate(list(scores.values())), np.linspace(0.5, 1.0, 40)):
        assert score_at(corpus, scores, float(t), STANDARD) <= best + 1e-9


def test_the_corpus_has_58_series_and_116_windows():
    corpus = load_corpus()

    assert len(corpus) == 58
    assert sum(len(s.windows) for s in corpus) == 116
    assert normalize(-116.0, 116, STANDARD) == 0.0


def test_the_scorer_reproduces_the_published_numenta_scores_within_half_a_point():
    corpus = load_corpus()
    scores = score_corpus(corpus, load_published_scores("numenta", corpus), load_profiles())
    board = load_scoreboard()["numenta"]

    assert board == {"nab_standard": 70.10, "nab_low_fp": 63.12, "nab_low_fn": 74.32}
    for profile, published in PUBLISHED_NUMENTA.items():
        assert abs(scores[profile].normalized - published) < 0.5, profile
