"""What a responder would see of a drill scenario's faults, and the playbook that fits them.

Tabletop mode shows these observations instead of the scenario's description (which gives
the answer away), and compares the responder's choices with the matching playbook.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from fireline.detect.catalog import signal_named
from fireline.domain.incident import IncidentType
from fireline.drill.spec import ChangeSpec, Feature, ScenarioSpec
from fireline.drill.spec_faults import (
    ErrorBurst,
    EvalDegradation,
    Fault,
    HallucinatedCitations,
    InputDrift,
    Latency,
    NegativeFeedback,
    PiiOutput,
    PromptInjection,
    Refusal,
    TokenBlowup,
)
from fireline.playbooks.library import Library
from fireline.playbooks.model import Playbook


@dataclass(frozen=True, slots=True)
class Observation:
    """One fault as monitoring shows it: the signal that moves, how, when and where."""

    #: None for a fault no single signal shows (detection relies on scanners or people).
    signal: str | None
    feature: str
    what: str
    when: str
    segment: Mapping[str, str]
    #: Share of the feature's traffic in the segment, when the scenario tells.
    share: float | None


def duration(seconds: float) -> str:
    """A duration as people say it: "45 min", "2 h", "1 h 30 min", "14 d".

    >>> duration(2700), duration(5400), duration(86400 * 14)
    ('45 min', '1 h 30 min', '14 d')
    """
    minutes = round(seconds / 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{mins} min" * bool(mins)]
    return " ".join(p for p in parts if p) or f"{int(seconds)} s"


def signal_of(fault: Fault) -> str | None:
    """The signal that alarms first for a fault (what detection would page on)."""
    match fault:
        case ErrorBurst():
            limited = fault.error_types.get("http_429", 0.0) >= 0.5
            return "error_rate.http_429" if limited else "error_rate"
        case Latency():
            return "latency"
        case TokenBlowup():
            return "cost_per_call"
        case Refusal():
            return "refusal_rate"
        case HallucinatedCitations():
            return "scan.grounding"
        case PiiOutput():
            return "scan.pii"
        case PromptInjection():
            return "scan.injection"
        case InputDrift():
            return "input_length" if fault.input_factor != 1 else "input_text"
        case EvalDegradation():
            return "eval.quality"
        case NegativeFeedback():
            return "thumbs_down_rate"
        case _:  # a bad answer, or a kind newer than this mapping
            return None


def _movement(fault: Fault, feature: Feature) -> str:
    """How the fault moves its signal, from the feature's baseline to the fault's level."""
    base = feature.baseline
    match fault:
        case ErrorBurst():
            types = ", ".join(f"{k} {v:.0%}" for k, v in fault.error_types.items())
            return f"error rate {base.error_rate:.1%} → {fault.error_rate:.0%} ({types})"
        case Latency():
            median = base.latency.median_ms
            return f"median latency {median:.0f} ms → {median * fault.factor:.0f} ms"
        case TokenBlowup():
            out, inp = base.tokens.output, base.tokens.input
            return (
                f"tokens per call: output {out:.0f} → {out * fault.output_factor:.0f}, "
                f"input {inp:.0f} → {inp * fault.input_factor:.0f}; cost per call up accordingly"
            )
        case Refusal():
            return f"refusal rate {base.refusal_rate:.1%} → {fault.refusal_rate:.1%}"
        case HallucinatedCitations():
            return f"answers citing documents that were never retrieved: 0% → {fault.rate:.0%}"
        case PiiOutput():
            return (
                f"answers with personal data (PII scanner): {base.pii_rate:.2%} → {fault.rate:.1%}"
            )
        case PromptInjection():
            return f"prompts with injection attempts: {base.injection_rate:.1%} → {fault.rate:.1%}"
        case InputDrift():
            moved = "; ".join(
                f"{dim} now " + ", ".join(f"{v} {s:.0%}" for v, s in shares.items())
                for dim, shares in fault.shares.items()
            )
            return (
                f"inputs drift: {moved or 'new kinds of prompts'}; prompts ×{fault.input_factor:g}"
            )
        case EvalDegradation():
            return f"mean quality eval score {base.eval_score:.2f} → {fault.eval_score:.2f}"
        case NegativeFeedback():
            return f"thumbs-down rate {base.thumbs_down_rate:.1%} → {fault.thumbs_down_rate:.1%}"
        case _:
            text, rate = getattr(fault, "text", None), getattr(fault, "rate", None)
            said = f' saying "{" ".join(str(text).split())[:100]}"' if text else ""
            share = f" in {rate:.1%} of answers" if isinstance(rate, float) else ""
            return f"users report answers{said}{share} ({fault.kind})"


def _share(spec: ScenarioSpec, fault: Fault) -> float | None:
    """The share of the feature's calls in the fault's segment (None if the scenario does
    not say: a dimension without shares)."""
    feature = spec.feature(fault.feature)
    share = 1.0
    for dimension, value in fault.where.items():
        shares = feature.segments.get(dimension, {})
        rollout = next(
            (
                c.rollout
                for c in spec.changes
                if c.feature == fault.feature and c.moves == dimension and c.version == value
            ),
            None,
        )
        if rollout is not None:
            share *= rollout
        elif value in shares:
            share *= shares[value]
        else:
            return None
    return share


def observations(spec: ScenarioSpec) -> list[Observation]:
    """Each fault of the scenario as a responder's dashboards would show it."""
    found = []
    for fault in spec.faults:
        onset = spec.start + timedelta(seconds=fault.onset)
        ramp = f", reaching full strength in {duration(fault.ramp)}" if fault.ramp else ""
        found.append(
            Observation(
                signal=signal_of(fault),
                feature=fault.feature,
                what=_movement(fault, spec.feature(fault.feature)),
                when=f"from {onset:%H:%M} (simulated){ramp}, for {duration(fault.duration)}",
                segment=dict(fault.where),
                share=_share(spec, fault),
            )
        )
    return found


def deploys(spec: ScenarioSpec) -> list[ChangeSpec]:
    """The scenario's changes, oldest first: what the deploy log shows."""
    return sorted(spec.changes, key=lambda c: c.at)


def incident_type(spec: ScenarioSpec) -> IncidentType | None:
    """The incident the faults make: the expected one, else the first fault's signal's."""
    if spec.expected is not None:
        return spec.expected.incident_type
    for fault in spec.faults:
        signal = signal_named(signal_of(fault) or "")
        if signal is not None:
            return signal.incident_type
    return None


def matching_playbook(spec: ScenarioSpec, playbooks: Library) -> Playbook | None:
    """The playbook the engine would attach to the scenario's incident."""
    kind = incident_type(spec)
    if kind is None:
        return None
    # A fault without a signal still tells where it shows: its segment counts.
    alerts = [(o.signal or "", o.segment) for o in observations(spec)]
    return playbooks.match(kind, alerts)


__all__ = [
    "Observation",
    "deploys",
    "duration",
    "incident_type",
    "matching_playbook",
    "observations",
    "signal_of",
]
