"""The faults a drill scenario can inject: when, where, and how strongly, one model per kind."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from fireline.drill.spec_yaml import parse_duration

#: Seconds, written as a number or as "45m", "2h", "14d", "1h30m".
Duration = Annotated[float, BeforeValidator(parse_duration)]
#: A probability.
Rate = Annotated[float, Field(ge=0, le=1)]
#: A multiplier of a signal (2 = twice as much).
Factor = Annotated[float, Field(gt=0)]


def _sum_to_one(shares: dict[str, float]) -> dict[str, float]:
    if not shares:
        raise ValueError("give at least one value and its share")
    for value, share in shares.items():
        if not 0 <= share <= 1:
            raise ValueError(f"the share of '{value}' must be between 0 and 1, not {share}")
    total = sum(shares.values())
    if abs(total - 1) > 1e-6:
        raise ValueError(f"the shares must sum to 1, not {total:g}")
    return shares


#: Values and their shares of traffic: {"acme": 0.6, "globex": 0.4}; they sum to 1.
Shares = Annotated[dict[str, float], AfterValidator(_sum_to_one)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Fault(Model):
    #: The feature whose calls the fault affects.
    feature: str
    #: When the fault begins, after the scenario's start.
    onset: Duration
    #: How long the fault lasts.
    duration: Annotated[Duration, Field(gt=0)]
    #: How long the fault takes to reach full strength (linearly) after its onset.
    ramp: Duration = 0.0
    #: Only calls of this segment are affected: {"tenant": "acme", "prompt_version": "v2"}.
    where: dict[str, str] = Field(default_factory=dict)


class ErrorBurst(_Fault):
    """Calls fail: the error rate rises to `error_rate`, with these error types."""

    kind: Literal["error_burst"]
    error_rate: Rate
    error_types: Shares = Field(default_factory=lambda: {"http_503": 1.0})


class Latency(_Fault):
    """Calls are slower: latency is multiplied by `factor`."""

    kind: Literal["latency"]
    factor: Factor


class TokenBlowup(_Fault):
    """Answers (and perhaps prompts) grow: token counts multiplied by the factors."""

    kind: Literal["token_blowup"]
    output_factor: Factor = 1.0
    input_factor: Factor = 1.0


class Refusal(_Fault):
    """The model refuses to answer (finish reason "refusal") at `refusal_rate`."""

    kind: Literal["refusal"]
    refusal_rate: Rate


class HallucinatedCitations(_Fault):
    """Answers cite documents that were not retrieved, at `rate`."""

    kind: Literal["hallucinated_citations"]
    rate: Rate


class PiiOutput(_Fault):
    """Answers contain personal data (an email address and phone number), at `rate`."""

    kind: Literal["pii_output"]
    rate: Rate


class PromptInjection(_Fault):
    """Prompts carry an injection attempt, at `rate`."""

    kind: Literal["prompt_injection"]
    rate: Rate


class InputDrift(_Fault):
    """Inputs move: segment shares (such as topics or locales) are redrawn from `shares`, and
    prompts are `input_factor` times as long."""

    kind: Literal["input_drift"]
    shares: dict[str, Shares] = Field(default_factory=dict)
    input_factor: Factor = 1.0


class EvalDegradation(_Fault):
    """Eval scores fall: their mean becomes `eval_score`."""

    kind: Literal["eval_degradation"]
    eval_score: Rate


class NegativeFeedback(_Fault):
    """Users complain: the thumbs-down rate rises to `thumbs_down_rate`."""

    kind: Literal["feedback"]
    thumbs_down_rate: Rate


class BadAnswer(_Fault):
    """Answers say what they must not: `text` (a false claim about the company, a disclosed
    system prompt, another customer's data) replaces the answer at `rate`."""

    kind: Literal["bad_answer"]
    rate: Rate
    text: Annotated[str, Field(min_length=1, max_length=2_000)]


Fault = Annotated[
    BadAnswer
    | ErrorBurst
    | Latency
    | TokenBlowup
    | Refusal
    | HallucinatedCitations
    | PiiOutput
    | PromptInjection
    | InputDrift
    | EvalDegradation
    | NegativeFeedback,
    Field(discriminator="kind"),
]

__all__ = [
    "BadAnswer",
    "Duration",
    "ErrorBurst",
    "EvalDegradation",
    "Factor",
    "Fault",
    "HallucinatedCitations",
    "InputDrift",
    "Latency",
    "Model",
    "NegativeFeedback",
    "PiiOutput",
    "PromptInjection",
    "Rate",
    "Refusal",
    "Shares",
    "TokenBlowup",
]
