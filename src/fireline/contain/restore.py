"""Staged restoration: widen the restored path 5 % → 25 % → 50 % → 100 % on the judge's word.

A `Restoration` is immutable; `step(verdict, at)` returns the next one. Its moves are a
transition table (phase × verdict), like the incident lifecycle. Users or sessions are
assigned to the canary by `in_canary` with the restoration's salt, so a user let in at 5 %
stays in at 25 %.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from fireline.contain.canary import (
    Evidence,
    Judgement,
    JudgeSettings,
    Rate,
    Values,
    Verdict,
    in_canary,
    judge,
    share_point,
)
from fireline.errors import IllegalTransition

__all__ = [
    "Evidence",
    "JudgeSettings",
    "Judgement",
    "Phase",
    "Rate",
    "Restoration",
    "RestorationSettings",
    "Values",
    "Verdict",
    "in_canary",
    "judge",
    "share_point",
]

DEFAULT_STAGES = (0.05, 0.25, 0.5, 1.0)


class RestorationSettings(BaseModel):
    """The `restoration` part of the `containment` section."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Shares of traffic on the restored path, rising; the last is 1 (all traffic).
    stages: tuple[float, ...] = DEFAULT_STAGES
    #: Restore in stages at all; false resolves a recovered incident at once (the old way).
    enabled: bool = True
    #: What is hashed into the canary: the user id, or the session id (users may not log in).
    unit: Literal["user", "session"] = "user"
    #: Healthy traffic before the incident's first alert that the canary is compared with.
    baseline_s: Annotated[int, Field(gt=0)] = 3600
    #: A stage still short of data after this long is promoted on its bake time alone (the
    #: detectors still watch every call); 0 holds until the judge has its data.
    max_stage_s: Annotated[int, Field(ge=0)] = 7200
    #: Hold the last step (all traffic) until the incident's regression evals have passed
    #: (`fireline eval run CASES --incident ID` records the run on the timeline).
    require_evals: bool = False
    #: After a rolled-back restoration, wait this long before trying again.
    retry_after_s: Annotated[int, Field(ge=0)] = 1800
    #: A stage lasts at least this long before it is promoted (its bake time).
    min_stage_s: Annotated[int, Field(ge=0)] = 600
    judge: JudgeSettings = Field(default_factory=JudgeSettings)

    @field_validator("stages")
    @classmethod
    def _rising_to_one(cls, stages: tuple[float, ...]) -> tuple[float, ...]:
        if not stages or stages[-1] != 1.0:
            raise ValueError("stages must end at 1.0 (all traffic)")
        if any(b <= a for a, b in pairwise((0.0, *stages))):
            raise ValueError("stages must rise strictly, each in (0, 1]")
        return stages


class Phase(StrEnum):
    """Where a restoration is."""

    RESTORING = "restoring"
    RESTORED = "restored"
    ROLLED_BACK = "rolled_back"


Move = Literal["advance", "stay", "roll_back"]

#: What each verdict does in each phase; the finished phases accept none.
TRANSITIONS: Mapping[tuple[Phase, Verdict], Move] = {
    (Phase.RESTORING, Verdict.PROMOTE): "advance",
    (Phase.RESTORING, Verdict.HOLD): "stay",
    (Phase.RESTORING, Verdict.ROLLBACK): "roll_back",
}


@dataclass(frozen=True, slots=True)
class Restoration:
    """One feature's staged way back to full service.

    >>> from datetime import datetime, timedelta, UTC
    >>> t0, bake = datetime(2026, 1, 1, tzinfo=UTC), timedelta(minutes=10)
    >>> r = Restoration.start("support-bot", salt="incident-7", at=t0)
    >>> r.share, r.step(Verdict.PROMOTE, t0 + bake).share
    (0.05, 0.25)
    >>> r.step(Verdict.PROMOTE, t0 + bake / 2).share  # too soon: baking still
    0.05
    >>> r.step(Verdict.ROLLBACK, t0 + bake).phase
    <Phase.ROLLED_BACK: 'rolled_back'>
    """

    feature: str
    salt: str
    stage_started_at: datetime
    stages: tuple[float, ...] = DEFAULT_STAGES
    min_stage_s: int = 600
    stage: int = 0
    phase: Phase = Phase.RESTORING
    #: What is hashed into the canary: "user" or "session".
    unit: str = "user"
    #: The how-many-th attempt for the same incident (a rolled-back one may be retried).
    attempt: int = 1

    @classmethod
    def start(
        cls,
        feature: str,
        *,
        salt: str,
        at: datetime,
        settings: RestorationSettings | None = None,
        attempt: int = 1,
    ) -> Restoration:
        """A restoration at its first stage; `salt` (say, the incident id) fixes the canary."""
        settings = settings or RestorationSettings()
        # A single stage is all traffic at once: nothing to stage.
        phase = Phase.RESTORED if len(settings.stages) == 1 else Phase.RESTORING
        return cls(
            feature,
            salt,
            at,
            settings.stages,
            settings.min_stage_s,
            phase=phase,
            unit=settings.unit,
            attempt=attempt,
        )

    @property
    def share(self) -> float:
        """Share of users or sessions on the restored path now."""
        fixed: Mapping[Phase, float] = {Phase.RESTORED: 1.0, Phase.ROLLED_BACK: 0.0}
        return fixed.get(self.phase, self.stages[self.stage])

    @property
    def finished(self) -> bool:
        return self.phase is not Phase.RESTORING

    def admits(self, key: str) -> bool:
        """Whether this user or session takes the restored path now."""
        return in_canary(key, self.share, self.salt)

    def baked(self, at: datetime) -> bool:
        """Whether the current stage has lasted its bake time."""
        return at - self.stage_started_at >= timedelta(seconds=self.min_stage_s)

    def step(self, verdict: Verdict, at: datetime) -> Restoration:
        """The restoration after the judge's `verdict` at `at`; a promotion waits for baking."""
        if verdict is Verdict.PROMOTE and not self.baked(at):
            verdict = Verdict.HOLD
        move = TRANSITIONS.get((self.phase, verdict))
        if move is None:
            raise IllegalTransition(f"restoration of {self.feature} is {self.phase}: no {verdict}")
        if move == "stay":
            return self
        if move == "roll_back":
            return replace(self, phase=Phase.ROLLED_BACK, stage_started_at=at)
        stage = self.stage + 1
        # The last stage is all traffic: nothing is left to compare against, so reaching it
        # ends the restoration.
        done = stage == len(self.stages) - 1
        return replace(
            self,
            stage=stage,
            stage_started_at=at,
            phase=Phase.RESTORED if done else Phase.RESTORING,
        )

    def to_state(self) -> dict[str, Any]:
        """JSON-safe data for the state store."""
        return {
            "feature": self.feature,
            "salt": self.salt,
            "stage_started_at": self.stage_started_at.isoformat(),
            "stages": list(self.stages),
            "min_stage_s": self.min_stage_s,
            "stage": self.stage,
            "phase": str(self.phase),
            "unit": self.unit,
            "attempt": self.attempt,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Restoration:
        """The inverse of `to_state`."""
        return cls(
            feature=state["feature"],
            salt=state["salt"],
            stage_started_at=datetime.fromisoformat(state["stage_started_at"]),
            stages=tuple(float(s) for s in state["stages"]),
            min_stage_s=int(state["min_stage_s"]),
            stage=int(state["stage"]),
            phase=Phase(state["phase"]),
            unit=str(state.get("unit", "user")),
            attempt=int(state.get("attempt", 1)),
        )
