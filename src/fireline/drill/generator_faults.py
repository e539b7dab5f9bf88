"""Segments of generated calls, and what the scenario's faults do to each call's signals."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from fireline.drill.spec import Feature, ScenarioSpec
from fireline.drill.spec_faults import BadAnswer, ErrorBurst, InputDrift

if TYPE_CHECKING:
    from fireline.drill.generator import _Draws

Floats = NDArray[np.float64]
Mask = NDArray[np.bool_]
_US = 1_000_000


def _pick(values: list[str], shares: Mapping[str, float], u: Floats) -> NDArray[Any]:
    """Values drawn by their shares with the uniform numbers `u`."""
    cumulative = np.cumsum(list(shares.values()))
    index = np.minimum(np.searchsorted(cumulative, u, side="right"), len(shares) - 1)
    return np.array(list(shares), dtype=object)[index]


def segments(
    spec: ScenarioSpec, feature: Feature, draws: _Draws, offset_us: NDArray[np.int64]
) -> tuple[list[NDArray[Any]], list[str]]:
    """Each call's value of every segment dimension: drawn by share, moved by the changes
    deployed before it, redrawn by input drift; None where a dimension has no value yet."""
    n = len(offset_us)
    names = list(feature.segments)
    for change in spec.changes:
        if change.feature == feature.name and change.moves and change.moves not in names:
            names.append(change.moves)
    values: dict[str, NDArray[Any]] = {}
    for name in names:
        shares = feature.segments.get(name)
        values[name] = (
            _pick(list(shares), shares, draws(f"segment:{name}"))
            if shares
            else np.full(n, None, dtype=object)
        )
    for i, change in enumerate(spec.changes):
        if change.feature != feature.name or change.moves is None:
            continue
        column = values[change.moves]
        moved = (offset_us >= change.at * _US) & (draws(f"change:{i}") < change.rollout)
        if change.previous_version is not None:
            moved &= column == change.previous_version
        column[moved] = change.version
    for i, fault in enumerate(spec.faults):
        if fault.feature != feature.name or not isinstance(fault, InputDrift):
            continue
        strength = _strength(fault, offset_us, values)
        drifted = draws(f"drift:{i}") < strength
        for name, shares in fault.shares.items():
            if name not in values:
                values[name] = np.full(n, None, dtype=object)
                names.append(name)
            new = _pick(list(shares), shares, draws(f"drift:{i}:{name}"))
            values[name][drifted] = new[drifted]
    return [values[name] for name in names], names


def _strength(
    fault: Any, offset_us: NDArray[np.int64], values: Mapping[str, NDArray[Any]]
) -> Floats:
    """How strongly `fault` acts on each call, 0 to 1: 0 outside its window and segment,
    rising linearly over its ramp."""
    since = (offset_us - fault.onset * _US) / _US
    inside = (since >= 0) & (since < fault.duration)
    for name, wanted in fault.where.items():
        column = values.get(name)
        inside &= column == wanted if column is not None else False
    ramp = np.clip(since / fault.ramp, 0.0, 1.0) if fault.ramp > 0 else 1.0
    return np.where(inside, ramp, 0.0)


@dataclass
class Effects:
    """Each call's signal parameters: the baseline moved toward the faults' targets."""

    error_rate: Floats
    error_choices: list[tuple[Mask, list[str], Mapping[str, float]]]
    latency_factor: Floats
    input_factor: Floats
    output_factor: Floats
    refusal_rate: Floats
    hallucination_rate: Floats
    pii_rate: Floats
    injection_rate: Floats
    eval_score: Floats
    thumbs_down_rate: Floats
    #: The faults acting on each call, as bits (bit i: the scenario's `faults[i]`; 0: none):
    #: the drill's ground truth of which calls a fault touched.
    faults: NDArray[np.int64]
    #: The text of a bad answer (a `bad_answer` fault) per call, else None.
    bad_text: NDArray[Any]

    @classmethod
    def of(
        cls,
        spec: ScenarioSpec,
        feature: Feature,
        draws: _Draws,
        offset_us: NDArray[np.int64],
        codes: list[NDArray[Any]],
        names: list[str],
        n: int,
    ) -> Effects:
        b = feature.baseline

        def full(value: float) -> Floats:
            return np.full(n, value, dtype=np.float64)

        fx = cls(
            full(b.error_rate),
            [(np.ones(n, dtype=bool), list(b.error_types), b.error_types)],
            full(1.0),
            full(1.0),
            full(1.0),
            full(b.refusal_rate),
            full(0.0),
            full(b.pii_rate),
            full(b.injection_rate),
            full(b.eval_score),
            full(b.thumbs_down_rate),
            np.zeros(n, dtype=np.int64),
            np.full(n, None, dtype=object),
        )
        values = dict(zip(names, codes, strict=True))
        for index, fault in enumerate(spec.faults):
            if fault.feature != feature.name:
                continue
            strength = _strength(fault, offset_us, values)
            fx.faults |= (strength > 0).astype(np.int64) << index
            if isinstance(fault, BadAnswer):
                said = (draws(f"bad:{index}") < strength * fault.rate) & (fx.bad_text == None)  # noqa: E711
                fx.bad_text[said] = fault.text
            elif isinstance(fault, InputDrift):
                fx.input_factor *= 1 + strength * (fault.input_factor - 1)
            else:
                fx._apply(fault, strength)
        return fx

    def _apply(self, fault: Any, r: Floats) -> None:
        def toward(current: Floats, target: float) -> None:
            current += r * (target - current)

        def scale(current: Floats, factor: float) -> None:
            current *= 1 + r * (factor - 1)

        kind = fault.kind
        if isinstance(fault, ErrorBurst):
            toward(self.error_rate, fault.error_rate)
            types = fault.error_types
            self.error_choices.append((r > 0, list(types), types))
        elif kind == "latency":
            scale(self.latency_factor, fault.factor)
        elif kind == "token_blowup":
            scale(self.output_factor, fault.output_factor)
            scale(self.input_factor, fault.input_factor)
        elif kind == "refusal":
            toward(self.refusal_rate, fault.refusal_rate)
        elif kind == "hallucinated_citations":
            toward(self.hallucination_rate, fault.rate)
        elif kind == "pii_output":
            toward(self.pii_rate, fault.rate)
        elif kind == "prompt_injection":
            toward(self.injection_rate, fault.rate)
        elif kind == "eval_degradation":
            toward(self.eval_score, fault.eval_score)
        elif kind == "feedback":
            toward(self.thumbs_down_rate, fault.thumbs_down_rate)

    def error_types(self, u: Floats) -> NDArray[Any]:
        """Each call's error type, from the last error burst acting on it (else the
        baseline's); the caller blanks the calls that did not fail."""
        chosen = np.full(len(u), None, dtype=object)
        for mask, values, shares in self.error_choices:
            chosen[mask] = _pick(values, shares, u[mask])
        return chosen


__all__ = ["Effects", "segments"]
