"""Guards: what apps must do for each feature."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from fireline.api.deps import FirelineDep, require
from fireline.api.schemas import GuardOut
from fireline.domain.access import Permission

router = APIRouter(prefix="/api/guards", tags=["guards"])


@router.get("", response_model=list[GuardOut], dependencies=[require(Permission.READ_GUARDS)])
def list_guards(instance: FirelineDep, active: Annotated[bool, Query()] = False) -> list[GuardOut]:
    """Every feature that has a guard; `active=true` for those above level 0."""
    with instance.state.unit_of_work() as tx:
        return [GuardOut.of(g) for g in tx.list_guards(active_only=active)]


@router.get(
    "/{feature:path}", response_model=GuardOut, dependencies=[require(Permission.READ_GUARDS)]
)
def get_guard(
    feature: Annotated[str, Path(min_length=1, max_length=128)], instance: FirelineDep
) -> GuardOut:
    """The guard an app reads before serving `feature`; level 0 when nothing is contained."""
    return GuardOut.of(instance.guard(feature))
