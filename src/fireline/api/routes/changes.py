"""Changes: what was deployed when."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from fireline.api.deps import FirelineDep, require
from fireline.api.schemas import ChangeOut
from fireline.domain.access import Permission

router = APIRouter(prefix="/api/changes", tags=["changes"])


@router.get("", response_model=list[ChangeOut], dependencies=[require(Permission.READ_INCIDENTS)])
def list_changes(
    instance: FirelineDep,
    feature: Annotated[str | None, Query(max_length=128)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ChangeOut]:
    """Changes newest first; with `feature`, that feature's and the global ones."""
    with instance.state.unit_of_work(read_only=True) as tx:
        found = tx.list_changes(feature=feature, since=since, until=until, limit=limit)
    return [ChangeOut.of(change) for change in found]
