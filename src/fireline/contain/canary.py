"""Who is in the canary, and the canary judge: is the restored path worse than the baseline?

The judge tests one-sided (worse only) at `alpha` for the whole step: with k signals each
is tested at alpha / k (Bonferroni), so a healthy canary is rolled back with probability
at most `alpha` per judgement.

A signal with a `margin` (one the incident alerted on) must also be shown back: the canary
better than the baseline made worse by the margin, at the same level (a non-inferiority
test). Absence of evidence of harm is not evidence of recovery: a small shift that CUSUM
found by accumulating hours of calls is invisible to a short canary, which would otherwise
pass for healthy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy import stats

from fireline.domain.guard import in_canary, share_point

__all__ = [
    "Evidence",
    "JudgeSettings",
    "Judgement",
    "Rate",
    "Values",
    "Verdict",
    "Worse",
    "in_canary",
    "judge",
    "share_point",
]

Worse = Literal["higher", "lower"]
#: Below this expected count in a cell the normal approximation is poor: Fisher's exact test.
_MIN_EXPECTED = 5.0


class Verdict(StrEnum):
    """What a canary step should do next."""

    PROMOTE = "promote"
    HOLD = "hold"
    ROLLBACK = "rollback"


class JudgeSettings(BaseModel):
    """How sure the judge must be, and how much data it needs first."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Chance of rolling back a canary that is no worse, per judgement (one-sided).
    alpha: Annotated[float, Field(gt=0, lt=0.5)] = 0.01
    #: The stricter level of the interim looks, before a stage has baked: the judge looks at
    #: every tick, and many looks at alpha would roll back a healthy canary far more often
    #: than alpha (a Haybittle–Peto boundary: only strong early evidence rolls back).
    interim_alpha: Annotated[float, Field(gt=0, lt=0.5)] = 0.001
    #: Values per arm before a latency-like signal is judged.
    min_samples: Annotated[int, Field(ge=5)] = 50
    #: Calls per arm before a rate is judged.
    min_calls: Annotated[int, Field(ge=10)] = 200
    #: Worse by at most this share is tolerated (latency-like: the baseline scaled by 1 + it).
    latency_tolerance: Annotated[float, Field(ge=0)] = 0.0
    #: Worse by at most this much is tolerated (rates, absolute: 0.01 is one point).
    rate_tolerance: Annotated[float, Field(ge=0, lt=1)] = 0.0


@dataclass(frozen=True, slots=True)
class Values:
    """A latency-like signal: one value per call, canary and baseline."""

    name: str
    canary: Sequence[float]
    baseline: Sequence[float]
    worse: Worse = "higher"
    #: Must be shown no worse than the baseline by more than this, in the signal's units
    #: (None: only tested for being worse).
    margin: float | None = None


@dataclass(frozen=True, slots=True)
class Rate:
    """A rate signal: hits out of calls, canary and baseline (errors, refusals, thumbs-down)."""

    name: str
    canary_hits: int
    canary_calls: int
    baseline_hits: int
    baseline_calls: int
    worse: Worse = "higher"
    #: Must be shown no worse than the baseline by more than this (absolute: 0.01 is one
    #: point); None: only tested for being worse.
    margin: float | None = None


@dataclass(frozen=True, slots=True)
class Evidence:
    """One signal's test: the evidence behind a verdict."""

    signal: str
    test: str
    canary_n: int
    baseline_n: int
    canary: float | None
    baseline: float | None
    statistic: float | None
    p_value: float | None
    alpha: float
    enough_data: bool
    #: The non-inferiority margin, and whether the canary was shown within it (None: no
    #: margin, or not enough data).
    margin: float | None = None
    proven: bool | None = None

    @property
    def worse(self) -> bool:
        """Significantly worse in the canary."""
        return self.enough_data and self.p_value is not None and self.p_value < self.alpha


@dataclass(frozen=True, slots=True)
class Judgement:
    """The verdict of one canary step, and the tests behind it."""

    verdict: Verdict
    reason: str
    tests: tuple[Evidence, ...]

    @property
    def short_of_data(self) -> bool:
        """Held only because some signal lacks data (none is merely unproven)."""
        return self.verdict is Verdict.HOLD and not any(t.proven is False for t in self.tests)


def _alternative(worse: Worse) -> Literal["greater", "less"]:
    return "greater" if worse == "higher" else "less"


def _values_test(s: Values, alpha: float, settings: JudgeSettings) -> Evidence:
    canary = np.asarray(s.canary, dtype=np.float64)
    baseline = np.asarray(s.baseline, dtype=np.float64)
    enough = min(canary.size, baseline.size) >= settings.min_samples
    statistic = p_value = None
    if enough:
        tolerance = (
            settings.latency_tolerance if s.worse == "higher" else -settings.latency_tolerance
        )
        result = stats.mannwhitneyu(
            canary, baseline * (1 + tolerance), alternative=_alternative(s.worse)
        )
        statistic, p_value = float(result.statistic), float(result.pvalue)
    proven = None
    if enough and s.margin is not None:
        # Better than the baseline made worse by the margin: shown back within it.
        made_worse = baseline + s.margin if s.worse == "higher" else baseline - s.margin
        better: Literal["less", "greater"] = "less" if s.worse == "higher" else "greater"
        shown = stats.mannwhitneyu(canary, made_worse, alternative=better)
        proven = float(shown.pvalue) < alpha
    return Evidence(
        signal=s.name,
        test="mann_whitney_u",
        canary_n=int(canary.size),
        baseline_n=int(baseline.size),
        canary=float(np.median(canary)) if canary.size else None,
        baseline=float(np.median(baseline)) if baseline.size else None,
        statistic=statistic,
        p_value=p_value,
        alpha=alpha,
        enough_data=enough,
        margin=s.margin,
        proven=proven,
    )


def _rate_test(s: Rate, alpha: float, settings: JudgeSettings) -> Evidence:
    n1, n2 = s.canary_calls, s.baseline_calls
    enough = min(n1, n2) >= settings.min_calls
    p1 = s.canary_hits / n1 if n1 else None
    p2 = s.baseline_hits / n2 if n2 else None
    name, statistic, p_value = "two_proportion_z", None, None
    if enough and p1 is not None and p2 is not None:
        pooled = (s.canary_hits + s.baseline_hits) / (n1 + n2)
        if min(n1, n2) * min(pooled, 1 - pooled) < _MIN_EXPECTED:
            name = "fisher_exact"
            table = np.array(
                [[s.canary_hits, n1 - s.canary_hits], [s.baseline_hits, n2 - s.baseline_hits]]
            )
            result = stats.fisher_exact(table, alternative=_alternative(s.worse))
            statistic, p_value = float(result.statistic), float(result.pvalue)
        else:
            statistic = _z(p1, p2, n1, n2, pooled, s.worse, settings.rate_tolerance)
            p_value = float(stats.norm.sf(statistic))
    proven = None
    if enough and p1 is not None and p2 is not None and s.margin is not None:
        proven = _within(p1, p2, n1, n2, s.worse, s.margin) < alpha
    return Evidence(
        signal=s.name,
        test=name,
        canary_n=n1,
        baseline_n=n2,
        canary=p1,
        baseline=p2,
        statistic=statistic,
        p_value=p_value,
        alpha=alpha,
        enough_data=enough,
        margin=s.margin,
        proven=proven,
    )


def _within(p1: float, p2: float, n1: int, n2: int, worse: Worse, margin: float) -> float:
    """One-sided p of "the canary is worse than the baseline by `margin` or more" (Wald,
    unpooled: the rates differ under H0); small when the canary is shown within the margin."""
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    correction = 0.5 * (1 / n1 + 1 / n2)
    room = (p2 - p1 if worse == "higher" else p1 - p2) + margin - correction
    if se == 0:
        return 0.0 if room > 0 else 1.0
    return float(stats.norm.sf(room / se))


def _z(p1: float, p2: float, n1: int, n2: int, pooled: float, worse: Worse, margin: float) -> float:
    """One-sided z of "the canary is worse by more than `margin`"."""
    if margin:
        # Under a margin the rates differ under H0, so the variance is not pooled.
        se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    else:
        se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    # The continuity correction keeps the discrete counts from rejecting more than alpha.
    correction = 0.5 * (1 / n1 + 1 / n2)
    diff = (p1 - p2 if worse == "higher" else p2 - p1) - margin - correction
    if se == 0:
        return math.inf if diff > 0 else -math.inf
    return diff / se


def judge(signals: Sequence[Values | Rate], settings: JudgeSettings) -> Judgement:
    """Roll back if any signal is significantly worse, hold if any lacks data or is not yet
    shown within its margin, else promote.

    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> healthy = Values("latency_ms", rng.lognormal(6, 0.3, 300), rng.lognormal(6, 0.3, 300))
    >>> judge([healthy, Rate("error_rate", 3, 400, 4, 400)], JudgeSettings()).verdict
    <Verdict.PROMOTE: 'promote'>
    >>> judge([Rate("error_rate", 40, 400, 4, 400)], JudgeSettings()).verdict
    <Verdict.ROLLBACK: 'rollback'>
    >>> judge([Rate("error_rate", 40, 100, 4, 400)], JudgeSettings()).reason
    'not enough data yet: error_rate'
    >>> judge([Rate("error_rate", 30, 400, 20, 400, margin=0.03)], JudgeSettings()).reason
    'not yet shown within its margin of the baseline: error_rate'
    >>> judge([Rate("error_rate", 4, 400, 20, 400, margin=0.05)], JudgeSettings()).verdict
    <Verdict.PROMOTE: 'promote'>
    """
    if not signals:
        return Judgement(Verdict.HOLD, "no signals to judge", ())
    alpha = settings.alpha / len(signals)
    tests = tuple(
        _values_test(s, alpha, settings)
        if isinstance(s, Values)
        else _rate_test(s, alpha, settings)
        for s in signals
    )
    worse = [t.signal for t in tests if t.worse]
    short = [t.signal for t in tests if not t.enough_data]
    if worse:
        return Judgement(Verdict.ROLLBACK, f"canary worse on {', '.join(worse)}", tests)
    if short:
        return Judgement(Verdict.HOLD, f"not enough data yet: {', '.join(short)}", tests)
    unproven = [t.signal for t in tests if t.proven is False]
    if unproven:
        reason = f"not yet shown within its margin of the baseline: {', '.join(unproven)}"
        return Judgement(Verdict.HOLD, reason, tests)
    return Judgement(Verdict.PROMOTE, "canary no worse than baseline on every signal", tests)
