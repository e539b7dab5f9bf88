"""MetricAnomalyDetector's score: a surprise scores when it beats its own record so far."""

import json
import math
from datetime import UTC, datetime, timedelta

import numpy as np

from fireline.detect.anomaly import MetricAnomalyDetector
from fireline.detect.base import Window, mean_window

T0 = datetime(2026, 1, 1, tzinfo=UTC)
STEP = timedelta(minutes=5)


def at(i: int, value: float) -> Window:
    return mean_window(T0 + i * STEP, T0 + (i + 1) * STEP, [value])


def scores(detector: MetricAnomalyDetector, values: list[float], start: int = 0) -> list[float]:
    out = []
    for i, value in enumerate(values, start):
        detector.update(at(i, value))
        out.append(detector.score)
    return out


def noisy(n: int, seed: int = 7) -> list[float]:
    rng = np.random.default_rng(seed)
    cycle = [2.0 * math.sin(2 * math.pi * i / 50) for i in range(n)]  # a period of 50 values
    return [50.0 + c + float(rng.normal(0, 0.5)) for c in cycle]


def test_a_spike_scores_the_first_time_and_not_when_it_comes_back():
    detector = MetricAnomalyDetector(quiet=1)  # no quiet period: the records alone decide
    values = noisy(1200)
    values[600] = values[900] = 58.0  # the same spike twice, in the same phase of the cycle
    out = scores(detector, values)

    assert out[600] > 0.5
    assert max(out[900:912]) < 0.05  # the spike, and the patterns holding it, are known now


def test_nothing_scores_in_the_warm_up():
    detector = MetricAnomalyDetector(warmup=100)
    values = noisy(150)
    values[50] = 500.0

    assert max(scores(detector, values)[:100]) == 0.0


def test_a_restored_detector_scores_like_the_original():
    values = noisy(700)
    values[650] = 57.0
    original, restored = MetricAnomalyDetector(), MetricAnomalyDetector()
    scores(original, values[:600])
    restored.load_state(json.loads(json.dumps(original.to_state())))

    assert scores(restored, values[600:], 600) == scores(original, values[600:], 600)
