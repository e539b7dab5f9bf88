"""Guards: the containment state of one feature that apps read at request time."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Any


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
    #: Share of requests the app may serve at all (1: every request); the rest are turned
    #: away with the app's "busy" answer.
    throttle: float = 1.0
    #: The segment the guard is narrowed to ({"tenant": "acme"}); requests outside it get
    #: normal service. Empty: the whole feature.
    segment: Mapping[str, str] = field(default_factory=dict)
    #: Regular expressions: a request whose input matches one of `block_input` is refused,
    #: an answer matching one of `block_output` is withheld (a forward fix).
    block_input: tuple[str, ...] = ()
    block_output: tuple[str, ...] = ()
    #: The staged restoration under way (`Restoration.to_state()`), or None.
    restoration: Mapping[str, Any] | None = None
    #: Where fallback mode (level 3) sends requests, from configuration, not stored with the
    #: guard: {"model": ..., "prompt_version": ..., "index_version": ..., "path": ...}.
    fallback: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def normal(cls, feature: str) -> Guard:
        return cls(feature=feature)

    @property
    def enabled(self) -> bool:
        """Whether the feature may serve users from its model at all."""
        return self.level < ContainmentLevel.FEATURE_DISABLED

    @property
    def restore_share(self) -> float:
        """Share of users (or sessions) already back on the normal path: 0 when not restoring."""
        if not self.restoration or self.restoration.get("phase") != "restoring":
            return 0.0
        stages = self.restoration.get("stages") or [0.0]
        return float(stages[int(self.restoration.get("stage", 0))])

    @property
    def restore_salt(self) -> str | None:
        return None if not self.restoration else str(self.restoration.get("salt"))

    @property
    def restore_unit(self) -> str:
        return "user" if not self.restoration else str(self.restoration.get("unit", "user"))

    @property
    def filters(self) -> dict[str, list[str]]:
        """The block patterns as stored: {"input": [...], "output": [...]}."""
        return {"input": list(self.block_input), "output": list(self.block_output)}

    def applies_to(self, attributes: Mapping[str, Any]) -> bool:
        """Whether a request with these attributes is in the guard's segment.

        >>> Guard("bot", ContainmentLevel.FALLBACK, segment={"tenant": "acme"}).applies_to(
        ...     {"tenant": "globex"})
        False
        """
        return all(str(attributes.get(k)) == v for k, v in self.segment.items())

    def level_for(self, attributes: Mapping[str, Any], key: str | None = None) -> ContainmentLevel:
        """The level in force for one request: none outside the segment or for a user (or
        session) `key` already restored; the guard's level otherwise.

        >>> guard = Guard("bot", ContainmentLevel.FEATURE_DISABLED, segment={"locale": "de"})
        >>> int(guard.level_for({"locale": "de"})), int(guard.level_for({"locale": "fr"}))
        (4, 0)
        """
        if not self.applies_to(attributes):
            return ContainmentLevel.NONE
        share, salt = self.restore_share, self.restore_salt
        if share > 0 and key is not None and salt is not None and in_canary(key, share, salt):
            return ContainmentLevel.NONE
        return self.level

    def blocks(self, text: str, where: str = "input") -> str | None:
        """The first block pattern of `where` ("input" or "output") that `text` matches."""
        patterns = self.block_input if where == "input" else self.block_output
        for pattern in patterns:
            if re.search(pattern, text, re.IGNORECASE):
                return pattern
        return None


def describe_fallback(route: Mapping[str, str]) -> str:
    """A fallback route in words, for the timeline.

    >>> describe_fallback({"model": "small", "path": "faq"})
    'routed to model small, path faq'
    >>> describe_fallback({})
    'no fallback configured: the app chooses its own'
    """
    if not route:
        return "no fallback configured: the app chooses its own"
    return "routed to " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in route.items())


def share_point(key: str, salt: str) -> float:
    """Where `key` falls in [0, 1): a SHA-256 hash, the same in every process and release.

    >>> round(share_point("user-8", "support-bot:7"), 4)
    0.1404
    """
    digest = hashlib.sha256(f"{salt}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def in_canary(key: str, share: float, salt: str) -> bool:
    """Whether a user or session is in a canary of `share`; a user in stays in as it grows.

    >>> [in_canary("user-8", share, "support-bot:7") for share in (0.05, 0.25, 0.5, 1.0)]
    [False, True, True, True]
    """
    return share_point(key, salt) < share
