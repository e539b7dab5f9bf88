"""ART-style shape categories of MetricAnomalyDetector (used with NAB's known value range)."""

import json
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from fireline.detect.anomaly import MetricAnomalyDetector
from fireline.detect.anomaly_categories import CategoryNews, PatternCategories
from fireline.detect.base import Window, mean_window

T0 = datetime(2026, 1, 1, tzinfo=UTC)
STEP = timedelta(minutes=5)


def at(i: int, value: float) -> Window:
    return mean_window(T0 + i * STEP, T0 + (i + 1) * STEP, [value])


def news(categories: PatternCategories, values: list[float]) -> list[bool]:
    return [categories.update(v) for v in values]


def test_nothing_is_new_before_a_full_window_and_the_first_full_window_is():
    categories = PatternCategories(0.0, 10.0, width=4, step=2)

    assert news(categories, [5.0] * 8) == [False] * 7 + [True]
    assert categories.count == 1


def test_a_window_within_the_vigilance_of_a_category_resonates_with_it():
    categories = PatternCategories(0.0, 10.0, width=4, step=2, vigilance=0.05)
    news(categories, [5.0] * 8)

    assert news(categories, [5.4, 5.4, 4.6, 4.6]) == [False] * 4  # 4 % of the range
    assert categories.count == 1


def test_a_window_beyond_the_vigilance_founds_a_new_category_once():
    categories = PatternCategories(0.0, 10.0, width=4, step=2, vigilance=0.05)
    news(categories, [5.0] * 8)

    seen = news(categories, [7.0] * 8)  # 20 % of the range away

    assert seen[1] is True  # the first mean of two that moves by more than 5 % of the range
    assert categories.count > 1
    assert news(categories, [5.0] * 8 + [7.0] * 8)[8:] == [False] * 8  # now both are known


def test_the_vigilance_is_a_share_of_the_known_range():
    wide = PatternCategories(0.0, 1000.0, width=4, step=1, vigilance=0.02)
    narrow = PatternCategories(0.0, 10.0, width=4, step=1, vigilance=0.02)
    values = [5.0] * 4 + [6.0] * 4

    assert sum(news(wide, values)) == 1  # a step of 1 is 0.1 % of 1000
    assert sum(news(narrow, values)) > 1  # and 10 % of 10


def test_the_capacity_bounds_the_stored_categories_but_not_the_news():
    categories = PatternCategories(0.0, 100.0, width=1, step=1, vigilance=0.001, capacity=3)

    assert news(categories, [1.0, 2.0, 3.0, 4.0, 5.0]) == [True] * 5
    assert categories.count == 3


@pytest.mark.parametrize(
    "kwargs",
    [{"span": 0.0}, {"span": math.inf}, {"span": 1.0, "vigilance": 0.0}, {"span": 1.0, "step": 0}],
)
def test_categories_need_a_positive_range_vigilance_and_sizes(kwargs):
    options = dict(kwargs)
    span = options.pop("span")
    with pytest.raises(ValueError, match="positive"):
        PatternCategories(0.0, span, **options)


def test_without_a_range_there_are_no_category_news():
    assert CategoryNews.of(0.0, 0.0, fine=(0.02, 4), coarse=(0.5, 8), after=0) is None
    assert CategoryNews.of(0.0, 5.0, fine=(0.02, 4), coarse=(0.5, 8), after=0) is not None


def test_a_known_fine_category_silences_a_score_unless_the_value_is_beyond_the_range():
    gate = CategoryNews(0.0, 10.0, fine_vigilance=0.05, fine_step=1, coarse_vigilance=None)
    for _ in range(8):
        gate.score(5.0, 0.0, beyond=False)

    assert gate.score(5.0, 0.7, beyond=False) == 0.0  # a shape already seen
    assert gate.score(5.0, 1.0, beyond=True) == 1.0
    assert gate.score(9.0, 0.7, beyond=False) == 0.7  # a new shape keeps its score


def test_a_new_coarse_category_scores_only_after_the_probation():
    def first_jump_score(after: int) -> float:
        add = CategoryNews(
            0.0, 10.0, fine_vigilance=None, coarse_vigilance=0.3, coarse_step=1, after=after
        )
        for _ in range(20):
            add.score(1.0, 0.0, beyond=False)
        return add.score(9.0, 0.0, beyond=False)

    assert first_jump_score(after=10) == 0.5
    assert first_jump_score(after=50) == 0.0


def test_category_news_restored_from_its_state_behaves_like_the_original():
    rng = np.random.default_rng(1)
    values = [float(v) for v in rng.uniform(0, 10, 300)]
    original = CategoryNews(0.0, 10.0, after=100)
    for v in values[:150]:
        original.score(v, 0.3, beyond=False)
    restored = CategoryNews(0.0, 10.0, after=100)
    restored.load_state(json.loads(json.dumps(original.to_state())))

    rest = values[150:]
    assert [restored.score(v, 0.3, beyond=False) for v in rest] == [
        original.score(v, 0.3, beyond=False) for v in rest
    ]


def test_the_category_parameters_do_nothing_without_the_known_range():
    rng = np.random.default_rng(4)
    values = [50.0 + float(rng.normal(0, 1)) for _ in range(700)]
    values[500] = 70.0

    def scores(detector: MetricAnomalyDetector) -> list[float]:
        out = []
        for i, v in enumerate(values):
            detector.update(at(i, v))
            out.append(detector.score)
        return out

    product = scores(MetricAnomalyDetector())
    assert product == scores(MetricAnomalyDetector(category_vigilance=0.9, novelty_vigilance=0.01))
    assert max(product[500:505]) > 0.5


def test_with_the_range_a_jitter_small_against_it_is_no_news():
    rng = np.random.default_rng(2)
    values = [50.0 + 10.0 * math.sin(2 * math.pi * i / 40) for i in range(600)]
    for i in range(400, 440):  # a jitter of 0.8 % of the range on a clean cycle
        values[i] += float(rng.uniform(-0.8, 0.8))
    known = {"input_min": 0.0, "input_max": 100.0, "probation": 150}

    def jitter_score(**kwargs: float | None) -> float:
        detector = MetricAnomalyDetector(**known, **kwargs)
        out = []
        for i, v in enumerate(values):
            detector.update(at(i, v))
            out.append(detector.score)
        return max(out[400:440])

    assert jitter_score(category_vigilance=None) > 0.5  # new to the surprises
    assert jitter_score() == 0.0  # but every shape resonates with a known category
