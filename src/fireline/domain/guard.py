"""Guards: the containment state of one feature that apps read at request time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum


class ContainmentLevel(IntEnum):
    """Graduated containment, from normal service (0) to full shutdown (5)."""

    NONE = 0
    WARN = 1
    HUMAN_REVIEW = 2
    FALLBACK = 3
    FEATURE_DISABLED = 4
    FULL_SHUTDOWN = 5

    @property
    def slug(self) -> str:
        return self.name.lower()

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    ContainmentLevel.NONE: "normal service",
    ContainmentLevel.WARN: "monitor and warn: outputs carry a warning flag",
    ContainmentLevel.HUMAN_REVIEW: "human review gate: outputs held for a reviewer",
    ContainmentLevel.FALLBACK: "fallback mode: route to the configured fallback path",
    ContainmentLevel.FEATURE_DISABLED: "feature disabled (kill switch)",
    ContainmentLevel.FULL_SHUTDOWN: "full shutdown of every AI feature of the app",
}


@dataclass(frozen=True, slots=True)
class Guard:
    """What an app must do for one feature right now.

    `probe_share` is the share of requests an app still sends to the model while the feature
    is disabled, so that recovery can be observed (like a half-open circuit breaker).

    >>> Guard.normal("support-bot").enabled
    True
    """

    feature: str
    level: ContainmentLevel = ContainmentLevel.NONE
    reason: str | None = None
    incident_id: int | None = None
    probe_share: float = 0.0
    set_by: str | None = None
    updated_at: datetime | None = None
    #: Versions the app must use instead of the deployed ones, by kind (model, prompt,
    #: index): a rollback pins the last known good; rolling forward lifts the pin.
    routing: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def normal(cls, feature: str) -> Guard:
        return cls(feature=feature)

    @property
    def enabled(self) -> bool:
        """Whether the feature may serve users from its model at all."""
        return self.level < ContainmentLevel.FEATURE_DISABLED
