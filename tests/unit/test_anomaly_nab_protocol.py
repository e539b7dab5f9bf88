"""MetricAnomalyDetector's optional NAB inputs: the known value range and the probation."""

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from fireline.detect.anomaly import MetricAnomalyDetector
from fireline.detect.base import Window, mean_window

T0 = datetime(2026, 1, 1, tzinfo=UTC)
STEP = timedelta(minutes=5)


def at(i: int, value: float) -> Window:
    return mean_window(T0 + i * STEP, T0 + (i + 1) * STEP, [value])


def scores(detector: MetricAnomalyDetector, values: list[float]) -> list[float]:
    out = []
    for i, value in enumerate(values):
        detector.update(at(i, value))
        out.append(detector.score)
    return out


def noisy(n: int, seed: int = 3) -> list[float]:
    rng = np.random.default_rng(seed)
    return [
        50.0 + 2.0 * math.sin(2 * math.pi * i / 50) + float(rng.normal(0, 0.5)) for i in range(n)
    ]


def test_without_nab_inputs_the_detector_is_the_products():
    values = noisy(900)
    values[600] = 60.0
    product = scores(MetricAnomalyDetector(), values)
    ignored = scores(MetricAnomalyDetector(range_floor=0.5, quiet_share=0.9), values)

    assert product == ignored  # the NAB-only parameters do nothing without NAB's inputs


def test_the_known_range_keeps_a_tiny_wobble_of_a_flat_stream_quiet():
    rng = np.random.default_rng(5)
    values = [10.0 + float(rng.normal(0, 1e-4)) for _ in range(800)]
    values[500:508] = [10.0 + 5e-3 * (-1) ** k for k in range(8)]  # a wobble of 0.005
    records = {
        "quiet": 1,
        "likelihood_p": 1e-13,
    }  # the records alone (the likelihood is scale-free)
    bare = scores(MetricAnomalyDetector(**records), values)
    known = scores(MetricAnomalyDetector(**records, input_min=0.0, input_max=20.0), values)

    assert max(bare[500:510]) > 0.5
    assert max(known[500:510]) < 0.05  # 0.005 is nothing on a range of 20


def test_the_probation_sets_the_quiet_period():
    values = noisy(1200)
    values[600] = 65.0
    values[700] = 30.0  # a second fault 100 records later
    short = scores(MetricAnomalyDetector(probation=400, quiet_share=0.2), values)
    long = scores(MetricAnomalyDetector(probation=1000, quiet_share=0.2), values)

    assert short[600] > 0.5
    assert long[600] > 0.5
    assert short[700] > 0.5  # quiet for 80 records only
    assert long[700] == 0.0  # quiet for 200


def test_a_half_given_range_is_refused():
    with pytest.raises(ValueError, match="input_min <= input_max"):
        MetricAnomalyDetector(input_min=0.0)
    with pytest.raises(ValueError, match="input_min <= input_max"):
        MetricAnomalyDetector(input_min=1.0, input_max=0.0)
