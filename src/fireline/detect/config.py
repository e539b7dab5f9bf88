"""The `detection` section of fireline.yaml: signals, segments, detectors and budgets.

Every setting has a default, so a new feature is watched on every signal with no file at all.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from fireline.detect.base import DEFAULT_FALSE_ALARMS_PER_30_DAYS, Direction

#: Segment dimensions that are columns of a call.
BUILTIN_SEGMENTS = ("model", "model_version", "prompt_version", "index_version", "tenant")
_ATTRIBUTE_KEY = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SignalSettings(_Section):
    """How one signal is watched; unset fields keep the signal's defaults."""

    #: Turn the signal off.
    enabled: bool | None = None
    #: Detectors by name (`cusum_bernoulli`, `cusum_gaussian`, `cusum_poisson`, `budget`,
    #: `error_rate`, the drift detectors...); replaces the signal's default list.
    detectors: tuple[str, ...] | None = None
    direction: Direction | None = None
    false_alarms_per_30_days: Annotated[float, Field(gt=0)] | None = None
    #: A hard limit (budget or SLO) watched by the `budget` detector.
    budget: float | None = None
    #: Watch the signal per segment as well as for the whole feature.
    per_segment: bool | None = None
    #: Extra parameters for the detectors, by detector name: {cusum_gaussian: {min_n: 50}}.
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)


def _check_signals(signals: dict[str, SignalSettings]) -> dict[str, SignalSettings]:
    """Every signal named exists, and every detector named can watch it."""
    from fireline.detect.catalog import signal_named
    from fireline.detect.registry import detector_class

    for name, settings in signals.items():
        signal = signal_named(name)
        if signal is None:
            raise ValueError(f"unknown signal {name!r}")
        for detector in settings.detectors or ():
            try:
                detector_class(detector, signal.kind)
            except ValueError as error:
                raise ValueError(f"{name}: {error}") from None
    return signals


class FeatureSettings(_Section):
    """Settings of one feature: its signals, over the deployment's."""

    signals: dict[str, SignalSettings] = Field(default_factory=dict)
    false_alarms_per_30_days: Annotated[float, Field(gt=0)] | None = None

    _signals_exist = field_validator("signals")(_check_signals)


class Detection(_Section):
    """Detection for the whole deployment."""

    #: Seconds of event time in each window a detector sees.
    bucket_s: Annotated[int, Field(ge=10, le=3_600)] = 60
    #: The default false-alarm budget of every detector, per signal and segment.
    false_alarms_per_30_days: Annotated[float, Field(gt=0)] = DEFAULT_FALSE_ALARMS_PER_30_DAYS
    #: Segment dimensions: call columns (model, model_version, prompt_version, index_version,
    #: tenant).
    segments: tuple[str, ...] = BUILTIN_SEGMENTS
    #: Call attributes to segment by as well (locale, plan, ...).
    attributes: tuple[Annotated[str, Field(pattern=_ATTRIBUTE_KEY)], ...] = ()
    #: Most values watched per segment dimension and feature (the busiest ones).
    max_segment_values: Annotated[int, Field(ge=1, le=1_000)] = 20
    #: How much stored history a newly seen feature is warmed up on.
    warmup_s: Annotated[int, Field(ge=0)] = 86_400
    #: An eval score below this fails the call (for the eval fail-rate signals).
    eval_pass_threshold: float = 0.5
    #: Signals by name, for every feature.
    signals: dict[str, SignalSettings] = Field(default_factory=dict)
    #: Per-feature settings, over the ones above.
    features: dict[str, FeatureSettings] = Field(default_factory=dict)

    _signals_exist = field_validator("signals")(_check_signals)

    @field_validator("segments")
    @classmethod
    def _known_segments(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [name for name in value if name not in BUILTIN_SEGMENTS]
        if unknown:
            raise ValueError(
                f"unknown segment {unknown[0]!r}: use one of {', '.join(BUILTIN_SEGMENTS)}, "
                "or name call attributes under detection.attributes"
            )
        return value

    def settings_for(self, feature: str, signal: str) -> SignalSettings:
        """The deployment's settings of `signal`, overlaid by the feature's."""
        merged = self.signals.get(signal, SignalSettings()).model_dump(exclude_unset=True)
        own = self.features.get(feature)
        if own is not None and signal in own.signals:
            merged.update(own.signals[signal].model_dump(exclude_unset=True))
        return SignalSettings(**merged)

    def budget_for(self, feature: str) -> float:
        """The false-alarm budget for the feature's detectors, unless a signal sets its own."""
        own = self.features.get(feature)
        if own is not None and own.false_alarms_per_30_days is not None:
            return own.false_alarms_per_30_days
        return self.false_alarms_per_30_days
