"""Guards: what apps must do for each feature; rollback and roll-forward pin versions."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from fireline.api.deps import FirelineDep, require
from fireline.api.schemas import GuardOut
from fireline.contain.controls import Controls
from fireline.domain.access import Permission
from fireline.domain.guard import ContainmentLevel
from fireline.respond.rollback import PinMove, roll_back, roll_forward
from fireline.runtime import Fireline

router = APIRouter(prefix="/api/guards", tags=["guards"])


@router.get("", response_model=list[GuardOut], dependencies=[require(Permission.READ_GUARDS)])
def list_guards(instance: FirelineDep, active: Annotated[bool, Query()] = False) -> list[GuardOut]:
    """Every feature that has a guard; `active=true` for those above level 0."""
    return [GuardOut.of(g) for g in instance.guards(active_only=active)]


@router.get(
    "/{feature:path}", response_model=GuardOut, dependencies=[require(Permission.READ_GUARDS)]
)
def get_guard(
    feature: Annotated[str, Path(min_length=1, max_length=128)], instance: FirelineDep
) -> GuardOut:
    """The guard an app reads before serving `feature`; level 0 when nothing is contained."""
    return GuardOut.of(instance.guard(feature))


class RoutingIn(BaseModel):
    """Roll a feature's model, prompt or index back to its last known good (or forward)."""

    model_config = ConfigDict(extra="forbid")

    feature: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    kind: Literal["model", "prompt", "index"]
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2_000)]


@router.post("/rollback", response_model=GuardOut)
def rollback(
    body: RoutingIn, instance: FirelineDep, caller: Annotated[str, require(Permission.COMMAND)]
) -> GuardOut:
    """Pin the last known good version of `kind` in the feature's guard (commander)."""
    return _pin(roll_back, body, instance, caller)


@router.post("/roll-forward", response_model=GuardOut)
def roll_forward_route(
    body: RoutingIn, instance: FirelineDep, caller: Annotated[str, require(Permission.COMMAND)]
) -> GuardOut:
    """Lift the pin of `kind`: the app uses the deployed version again (commander)."""
    return _pin(roll_forward, body, instance, caller)


def _pin(move: PinMove, body: RoutingIn, instance: Fireline, caller: str) -> GuardOut:
    found = instance.pin(move, body.feature, body.kind, actor=caller, reason=body.reason)
    return GuardOut.of(instance.with_fallback(found))


class FiltersIn(BaseModel):
    """Block patterns (regular expressions) for requests' inputs and models' outputs."""

    model_config = ConfigDict(extra="forbid")

    input: list[Annotated[str, StringConstraints(min_length=1, max_length=500)]] = Field(
        default_factory=list, max_length=50
    )
    output: list[Annotated[str, StringConstraints(min_length=1, max_length=500)]] = Field(
        default_factory=list, max_length=50
    )


class GuardIn(BaseModel):
    """A containment level set by a person (commander), with the reason."""

    model_config = ConfigDict(extra="forbid")

    level: Annotated[int, Field(ge=0, le=5)]
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2_000)]
    probe_share: Annotated[float, Field(ge=0, le=1)] | None = None
    #: Share of requests the app may serve (1: all).
    throttle: Annotated[float, Field(gt=0, le=1)] | None = None
    #: Narrow the guard to a segment: {"tenant": "acme"}; {} or absent: the whole feature.
    segment: dict[str, Annotated[str, StringConstraints(max_length=256)]] | None = Field(
        default=None, max_length=8
    )
    #: Block patterns (regular expressions): {"input": [...], "output": [...]}.
    filters: FiltersIn | None = None

    def controls(self) -> Controls | None:
        """The controls asked for, or None when the body names none (the guard keeps its own)."""
        if self.throttle is None and self.segment is None and self.filters is None:
            return None
        return Controls.of(
            throttle=self.throttle,
            segment=self.segment,
            block_input=self.filters.input if self.filters else None,
            block_output=self.filters.output if self.filters else None,
        )


@router.put("/{feature:path}", response_model=GuardOut)
def set_guard(
    feature: Annotated[str, Path(min_length=1, max_length=128)],
    body: GuardIn,
    instance: FirelineDep,
    caller: Annotated[str, require(Permission.COMMAND)],
) -> GuardOut:
    """Set the feature's containment level (0 lifts it; 5 shuts every AI feature down)."""
    with instance.acting() as tx:
        found = instance.actions.set_guard(
            tx,
            feature,
            ContainmentLevel(body.level),
            actor=caller,
            reason=body.reason,
            probe_share=body.probe_share,
            controls=body.controls(),
        )
    return GuardOut.of(instance.with_fallback(found))
