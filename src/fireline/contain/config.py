"""The `containment` section of fireline.yaml: policy, breakers, restoration, rollback,
fallbacks."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from fireline.contain.breaker import BREAKERS, Breaker
from fireline.contain.policy import ContainmentPolicy
from fireline.contain.restore import RestorationSettings


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BreakerSettings(_Model):
    """One circuit breaker on one feature: a budget on a metric, and how it probes."""

    metric: Literal["cost_per_hour", "error_rate", "latency_p99_ms"]
    #: US dollars per hour, a share of calls, or milliseconds, by metric.
    budget: Annotated[float, Field(gt=0)]
    window_s: Annotated[int, Field(gt=0)] = 300
    #: Calls the window needs before the budget is judged (a few calls prove nothing).
    min_calls: Annotated[int, Field(ge=0)] = 50
    cooldown_s: Annotated[int, Field(ge=0)] = 300
    probe_share: Annotated[float, Field(gt=0, le=1)] = 0.05
    probe_window_s: Annotated[int, Field(gt=0)] = 60
    min_probe_calls: Annotated[int, Field(ge=0)] = 10
    probes_to_close: Annotated[int, Field(ge=1)] = 3
    #: The level the breaker's guard sets while it is open or half-open.
    level: Annotated[int, Field(ge=1, le=5)] = 4

    def build(self) -> Breaker:
        """A new, closed breaker with these settings."""
        settings = self.model_dump(exclude={"metric", "level"})
        return BREAKERS[self.metric](**settings)


class RollbackSettings(_Model):
    """How the rollback registry marks versions known good."""

    #: A version is known good after a healthy stretch this long while it was live.
    min_healthy_minutes: Annotated[float, Field(gt=0)] = 30.0


Name = Annotated[str, StringConstraints(min_length=1, max_length=256)]
#: The key of `fallbacks` that applies to every feature without its own entry.
EVERY_FEATURE = "*"


class FallbackSettings(_Model):
    """Where fallback mode (level 3) sends a feature's requests: a fallback model, a prompt
    version, a retrieval index version and/or a rule-based path the app implements (by name).

    >>> FallbackSettings(model="small-model", path="faq-lookup").route()
    {'model': 'small-model', 'path': 'faq-lookup'}
    """

    model: Name | None = None
    prompt_version: Name | None = None
    index_version: Name | None = None
    #: The name of a rule-based path of the app (a canned answer, a search, a form).
    path: Name | None = None

    @model_validator(mode="after")
    def _names_something(self) -> FallbackSettings:
        if not self.route():
            raise ValueError(
                "a fallback names at least one of model, prompt_version, index_version, path"
            )
        return self

    def route(self) -> dict[str, str]:
        """What the fallback names, without the parts left out."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


class Containment(ContainmentPolicy):
    """The `containment` section: the decision policy plus breakers, restoration, rollback.

    >>> section = Containment.model_validate(
    ...     {"breakers": {"support-bot": [{"metric": "cost_per_hour", "budget": 40}]}})
    >>> [type(b).__name__ for b in section.breakers_for("support-bot")]
    ['CostBreaker']
    >>> section.restoration.stages
    (0.05, 0.25, 0.5, 1.0)
    """

    #: Breakers by feature name.
    breakers: dict[str, tuple[BreakerSettings, ...]] = Field(default_factory=dict)
    restoration: RestorationSettings = Field(default_factory=RestorationSettings)
    rollback: RollbackSettings = Field(default_factory=RollbackSettings)
    #: Fallbacks by feature name; "*" for every feature without its own.
    fallbacks: dict[str, FallbackSettings] = Field(default_factory=dict)

    def breakers_for(self, feature: str) -> list[Breaker]:
        """New, closed breakers for a feature (empty when none is configured)."""
        return [settings.build() for settings in self.breakers.get(feature, ())]

    def fallback_for(self, feature: str) -> dict[str, str]:
        """The fallback configured for `feature` (or for every feature); {} when none is.

        >>> section = Containment.model_validate(
        ...     {"fallbacks": {"*": {"path": "canned"}, "bot": {"model": "small"}}})
        >>> section.fallback_for("bot"), section.fallback_for("search")
        ({'model': 'small'}, {'path': 'canned'})
        """
        found = self.fallbacks.get(feature) or self.fallbacks.get(EVERY_FEATURE)
        return found.route() if found is not None else {}
