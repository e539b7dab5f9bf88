"""Routes of issue 8 (learning): response metrics and their trend plots, action items, and
the post-incident review draft and its acceptance."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, StringConstraints

from fireline.api.deps import FirelineDep, require
from fireline.clock import as_utc
from fireline.domain.access import Permission
from fireline.errors import NotFound
from fireline.learn.actions import ActionCategory, ActionChange, ActionItem, ActionStatus
from fireline.learn.metrics import Period
from fireline.learn.review import signal_plot
from fireline.learn.service import LearningService
from fireline.learn.trend import TrendSeries, trend_svg

router = APIRouter(tags=["learning"])

IncidentId = Annotated[int, Path(ge=1, le=2**31 - 1)]
ActionId = Annotated[int, Path(ge=1, le=2**31 - 1)]
_Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
_Person = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
_Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5_000)]
_Since = Annotated[datetime | None, Query(description="Detected at or after (ISO 8601, UTC)")]
_Until = Annotated[datetime | None, Query(description="Detected before (ISO 8601, UTC)")]


class ActionIn(BaseModel):
    """A new action item of an incident."""

    model_config = ConfigDict(extra="forbid")

    title: _Title
    category: ActionCategory
    owner: _Person | None = None
    due: AwareDatetime | None = None
    note: _Note | None = None


class ActionPatch(BaseModel):
    """What to change on an action item; at least one field."""

    model_config = ConfigDict(extra="forbid")

    status: ActionStatus | None = None
    owner: _Person | None = None
    due: AwareDatetime | None = None
    note: _Note | None = None


class ActionOut(BaseModel):
    id: int
    incident_id: int
    title: str
    category: str
    owner: str | None
    due: datetime | None
    status: str
    note: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    overdue: bool

    @classmethod
    def of(cls, item: ActionItem, now: datetime) -> ActionOut:
        assert item.item_id is not None
        return cls(
            id=item.item_id,
            incident_id=item.incident_id,
            title=item.title,
            category=item.category.value,
            owner=item.owner,
            due=item.due,
            status=item.status.value,
            note=item.note,
            created_by=item.created_by,
            created_at=item.created_at,
            updated_at=item.updated_at,
            overdue=item.is_overdue(now),
        )


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: _Note | None = None


def _utc(when: datetime | None) -> datetime | None:
    return None if when is None else as_utc(when)


@router.get("/api/metrics", dependencies=[require(Permission.READ_INCIDENTS)])
def get_metrics(
    instance: FirelineDep,
    period: Period = Period.MONTH,
    since: _Since = None,
    until: _Until = None,
) -> dict[str, object]:
    """MTTD, MTTA, MTTC, MTTR (medians and means, with counts), incidents by type and
    severity, and recurrences, per calendar month or quarter (UTC) of detection."""
    found = LearningService(instance).metrics(period, since=_utc(since), until=_utc(until))
    return found.to_json()


@router.get(
    "/api/metrics/trend.svg",
    response_class=Response,
    dependencies=[require(Permission.READ_INCIDENTS)],
)
def get_trend(
    instance: FirelineDep,
    metric: TrendSeries = TrendSeries.MTTR,
    period: Period = Period.MONTH,
    since: _Since = None,
    until: _Until = None,
) -> Response:
    """An SVG line chart of a metric's median (hours), or a count, per period."""
    found = LearningService(instance).metrics(period, since=_utc(since), until=_utc(until))
    return Response(trend_svg(found, metric), media_type="image/svg+xml")


@router.post("/api/incidents/{incident_id}/actions", response_model=ActionOut, status_code=201)
def add_action(
    incident_id: IncidentId,
    body: ActionIn,
    instance: FirelineDep,
    caller: Annotated[str, require(Permission.RESPOND)],
) -> ActionOut:
    """Add an action item to an incident (on its timeline)."""
    item = LearningService(instance).add_action(
        incident_id,
        title=body.title,
        category=body.category,
        actor=caller,
        owner=body.owner,
        due=_utc(body.due),
        note=body.note,
    )
    return ActionOut.of(item, instance.clock.now())


@router.get(
    "/api/incidents/{incident_id}/actions",
    response_model=list[ActionOut],
    dependencies=[require(Permission.READ_INCIDENTS)],
)
def list_incident_actions(incident_id: IncidentId, instance: FirelineDep) -> list[ActionOut]:
    """An incident's action items."""
    items = LearningService(instance).actions(incident_id=incident_id)
    now = instance.clock.now()
    return [ActionOut.of(i, now) for i in items]


@router.get(
    "/api/actions",
    response_model=list[ActionOut],
    dependencies=[require(Permission.READ_INCIDENTS)],
)
def list_actions(
    instance: FirelineDep,
    overdue: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 500,
) -> list[ActionOut]:
    """Every action item (or only the overdue ones: open and past due)."""
    items = LearningService(instance).actions(overdue=overdue, limit=limit)
    now = instance.clock.now()
    return [ActionOut.of(i, now) for i in items]


@router.patch("/api/actions/{action_id}", response_model=ActionOut)
def update_action(
    action_id: ActionId,
    body: ActionPatch,
    instance: FirelineDep,
    caller: Annotated[str, require(Permission.RESPOND)],
) -> ActionOut:
    """Change an action item's status, owner, due time or note (on the timeline)."""
    change = ActionChange(status=body.status, owner=body.owner, due=_utc(body.due), note=body.note)
    item = LearningService(instance).update_action(action_id, change, actor=caller)
    return ActionOut.of(item, instance.clock.now())


@router.get(
    "/api/incidents/{incident_id}/review",
    response_class=PlainTextResponse,
    dependencies=[require(Permission.READ_INCIDENTS)],
)
async def get_review(
    incident_id: IncidentId,
    instance: FirelineDep,
    format: Literal["markdown", "html"] = "markdown",
) -> Response:
    """The post-incident review draft of a resolved incident (409 while it is open)."""
    html = format == "html"
    text = await run_in_threadpool(LearningService(instance).review, incident_id, html=html)
    if html:
        return HTMLResponse(text)
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")


@router.get(
    "/api/incidents/{incident_id}/review/signal.svg",
    response_class=Response,
    dependencies=[require(Permission.READ_INCIDENTS)],
    responses={200: {"content": {"image/svg+xml": {}}}},
)
async def get_review_signal(incident_id: IncidentId, instance: FirelineDep) -> Response:
    """The review draft's plot of the alerting signal (404 when there is nothing to plot)."""
    facts = await run_in_threadpool(LearningService(instance).review_draft, incident_id)
    svg = signal_plot(facts)
    if svg is None:
        raise NotFound(f"incident {incident_id} has no signal plot: {facts.signals_problem}")
    return Response(svg, media_type="image/svg+xml")


@router.post("/api/incidents/{incident_id}/review/accept", status_code=204)
def accept_review(
    incident_id: IncidentId,
    instance: FirelineDep,
    caller: Annotated[str, require(Permission.COMMAND)],
    body: AcceptIn | None = None,
) -> None:
    """The commander accepts the review: the incident moves from resolved to reviewed."""
    LearningService(instance).accept_review(
        incident_id, actor=caller, note=body.note if body is not None else None
    )
