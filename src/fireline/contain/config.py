"""The `containment` section of fireline.yaml: policy, breakers, restoration, rollback."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

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

    def breakers_for(self, feature: str) -> list[Breaker]:
        """New, closed breakers for a feature (empty when none is configured)."""
        return [settings.build() for settings in self.breakers.get(feature, ())]
