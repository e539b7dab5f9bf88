"""On-call: schedules with rotations and overrides, escalation policies, pages until acked."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from fireline.api.deps import FirelineDep, require
from fireline.domain.access import Permission
from fireline.errors import IllegalTransition, NotFound
from fireline.oncall import ack_page
from fireline.oncall.links import LinkRefused
from fireline.oncall.roster import ScheduleNow
from fireline.oncall.schedule import Override
from fireline.oncall.service import Acknowledgement
from fireline.oncall.store import Page
from fireline.oncall.wiring import paging_for

router = APIRouter(tags=["oncall"])

IncidentId = Annotated[int, Path(ge=1, le=2**31 - 1)]
OverrideId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Token = Annotated[str, Path(max_length=200)]


class OnCallOut(BaseModel):
    schedule: str
    person: str | None
    since: datetime | None
    until: datetime | None
    source: str | None

    @classmethod
    def of(cls, found: ScheduleNow) -> OnCallOut:
        now = found.on_call
        return cls(
            schedule=found.schedule.name,
            person=None if now is None else now.person,
            since=None if now is None else now.since,
            until=None if now is None else now.until,
            source=None if now is None else now.source,
        )


class RotationOut(BaseModel):
    people: list[str]
    start: datetime
    shift_hours: float
    timezone: str
    hours: str | None


class ScheduleOut(BaseModel):
    name: str
    description: str | None
    rotations: list[RotationOut]
    on_call: OnCallOut


class OverrideIn(BaseModel):
    """Someone taking a schedule's shift from `start` to `end` (times with a zone)."""

    model_config = ConfigDict(extra="forbid")

    schedule: Annotated[str, Field(min_length=1, max_length=128)]
    person: Annotated[str, Field(min_length=1, max_length=200)]
    start: AwareDatetime
    end: AwareDatetime
    reason: Annotated[str, Field(max_length=2000)] | None = None


class OverrideOut(BaseModel):
    id: int | None
    schedule: str
    person: str
    start: datetime
    end: datetime
    reason: str | None
    created_by: str | None
    source: str

    @classmethod
    def of(cls, o: Override) -> OverrideOut:
        return cls(
            id=o.override_id,
            schedule=o.schedule,
            person=o.person,
            start=o.start,
            end=o.end,
            reason=o.reason,
            created_by=o.created_by,
            source="api" if o.override_id is not None else "file",
        )


class PageOut(BaseModel):
    id: int
    tier: int
    person: str | None
    target: str
    created_at: datetime
    last_sent_at: datetime | None
    attempts: int
    acknowledged_at: datetime | None
    acknowledged_by: str | None

    @classmethod
    def of(cls, p: Page) -> PageOut:
        return cls(
            id=p.page_id,
            tier=p.tier,
            person=p.person,
            target=p.target,
            created_at=p.created_at,
            last_sent_at=p.last_sent_at,
            attempts=p.attempts,
            acknowledged_at=p.acknowledged_at,
            acknowledged_by=p.acknowledged_by,
        )


class PagingOut(BaseModel):
    incident_id: int
    paging: bool
    policy: str | None
    started_at: datetime | None
    tier: int
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    acknowledged_via: str | None
    pages: list[PageOut]


class AckOut(BaseModel):
    incident_id: int
    acknowledged_at: datetime
    acknowledged_by: str
    via: str
    already: bool

    @classmethod
    def of(cls, ack: Acknowledgement) -> AckOut:
        return cls(
            incident_id=ack.incident_id,
            acknowledged_at=ack.at,
            acknowledged_by=ack.by,
            via=ack.via,
            already=ack.already,
        )


ReadOnCall = require(Permission.READ_INCIDENTS)


@router.get("/api/oncall/schedules", response_model=list[ScheduleOut], dependencies=[ReadOnCall])
def list_schedules(instance: FirelineDep) -> list[ScheduleOut]:
    """The configured schedules, with who is on call on each now."""
    paging = paging_for(instance)
    with instance.state.unit_of_work(read_only=True) as tx:
        now = paging.roster.on_call(tx, instance.clock.now())
    return [
        ScheduleOut(
            name=item.schedule.name,
            description=item.schedule.description,
            rotations=[
                RotationOut(
                    people=list(r.people),
                    start=r.begins,
                    shift_hours=r.shift.total_seconds() / 3600,
                    timezone=r.zone.key,
                    hours=None if r.window is None else f"{r.window.start}-{r.window.end}",
                )
                for r in item.schedule.rotations
            ],
            on_call=OnCallOut.of(item),
        )
        for item in now
    ]


@router.get("/api/oncall/now", response_model=list[OnCallOut], dependencies=[ReadOnCall])
def on_call_now(
    instance: FirelineDep,
    schedule: Annotated[str | None, Query(max_length=128)] = None,
    at: Annotated[AwareDatetime | None, Query(description="Another time (with zone)")] = None,
) -> list[OnCallOut]:
    """Who is on call now (or `at`), on one schedule or on each."""
    paging = paging_for(instance)
    with instance.state.unit_of_work(read_only=True) as tx:
        found = paging.roster.on_call(tx, at or instance.clock.now(), schedule)
    return [OnCallOut.of(item) for item in found]


@router.get("/api/oncall/overrides", response_model=list[OverrideOut], dependencies=[ReadOnCall])
def list_overrides(
    instance: FirelineDep,
    schedule: Annotated[str | None, Query(max_length=128)] = None,
    include_past: bool = False,
) -> list[OverrideOut]:
    """Overrides current or to come (with include_past, ended ones too), by start."""
    paging = paging_for(instance)
    with instance.state.unit_of_work(read_only=True) as tx:
        found = paging.roster.overrides(
            tx, now=instance.clock.now(), schedule=schedule, include_past=include_past
        )
    return [OverrideOut.of(o) for o in found]


@router.post("/api/oncall/overrides", response_model=OverrideOut, status_code=201)
def add_override(
    body: OverrideIn,
    instance: FirelineDep,
    caller: Annotated[str, require(Permission.RESPOND)],
) -> OverrideOut:
    """Put someone on call on a schedule for a while, over its rotations."""
    paging = paging_for(instance)
    wanted = Override(body.schedule, body.person.strip(), body.start, body.end, body.reason)
    with instance.state.unit_of_work() as tx:
        added = paging.roster.add_override(tx, wanted, by=caller, now=instance.clock.now())
    return OverrideOut.of(added)


@router.delete("/api/oncall/overrides/{override_id}", response_model=OverrideOut)
def remove_override(
    override_id: OverrideId,
    instance: FirelineDep,
    caller: Annotated[str, require(Permission.RESPOND)],
) -> OverrideOut:
    """Remove an override added through the API or CLI; it stays on record as removed."""
    paging = paging_for(instance)
    with instance.state.unit_of_work() as tx:
        removed = paging.roster.remove_override(
            tx, override_id, by=caller, now=instance.clock.now()
        )
    return OverrideOut.of(removed)


@router.get(
    "/api/incidents/{incident_id}/pages", response_model=PagingOut, dependencies=[ReadOnCall]
)
def incident_pages(incident_id: IncidentId, instance: FirelineDep) -> PagingOut:
    """An incident's escalation and every page sent for it."""
    paging = paging_for(instance)
    with instance.state.unit_of_work(read_only=True) as tx:
        escalation, pages = paging.status(tx, incident_id)
    if escalation is None:
        return PagingOut(
            incident_id=incident_id,
            paging=False,
            policy=None,
            started_at=None,
            tier=0,
            acknowledged_at=None,
            acknowledged_by=None,
            acknowledged_via=None,
            pages=[],
        )
    return PagingOut(
        incident_id=incident_id,
        paging=escalation.acknowledged_at is None,
        policy=escalation.policy,
        started_at=escalation.started_at,
        tier=escalation.tier,
        acknowledged_at=escalation.acknowledged_at,
        acknowledged_by=escalation.acknowledged_by,
        acknowledged_via=escalation.acknowledged_via,
        pages=[PageOut.of(p) for p in pages],
    )


@router.post("/api/incidents/{incident_id}/acknowledge", response_model=AckOut)
def acknowledge(
    incident_id: IncidentId,
    instance: FirelineDep,
    caller: Annotated[str, require(Permission.RESPOND)],
) -> AckOut:
    """Acknowledge an incident's pages: escalation and repeats stop (idempotent)."""
    paging = paging_for(instance)
    with instance.state.unit_of_work() as tx:
        return AckOut.of(paging.acknowledge(tx, incident_id, who=caller, via="api"))


# The routes below take no API token: the link's signature is the authority.


@router.get("/ack/{token}", include_in_schema=False)
def ack_link_page(token: Token, request: Request, instance: FirelineDep) -> Response:
    """What a signed link acknowledges, with a button to do it (GET changes nothing)."""
    paging = paging_for(instance)
    try:
        with instance.state.unit_of_work(read_only=True) as tx:
            page = paging.page_of_link(tx, token)
            escalation, _ = paging.status(tx, page.incident_id)
            incident = tx.get_incident(page.incident_id)
    except (LinkRefused, NotFound) as error:
        return _refused(request, error)
    by = escalation.acknowledged_by if escalation is not None else None
    if _wants_json(request):
        return _json(
            {
                "incident_id": page.incident_id,
                "title": incident.title,
                "page_id": page.page_id,
                "person": page.person,
                "acknowledged": by is not None,
                "acknowledged_by": by,
            }
        )
    html = ack_page.confirm_page(page.incident_id, incident.title, page.person, by)
    return HTMLResponse(html, headers=ack_page.HEADERS)


@router.post("/ack/{token}", include_in_schema=False)
def ack_link(token: Token, request: Request, instance: FirelineDep) -> Response:
    """Acknowledge the page a signed link was sent with."""
    paging = paging_for(instance)
    try:
        with instance.state.unit_of_work() as tx:
            ack = paging.acknowledge_link(tx, token)
            title = tx.get_incident(ack.incident_id).title
    except (LinkRefused, NotFound, IllegalTransition) as error:
        return _refused(request, error)
    if _wants_json(request):
        return _json(AckOut.of(ack).model_dump(mode="json"))
    html = ack_page.done_page(ack.incident_id, title, ack.by, ack.already)
    return HTMLResponse(html, headers=ack_page.HEADERS)


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _json(body: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=ack_page.HEADERS)


def _refused(request: Request, error: Exception) -> Response:
    status = 403 if isinstance(error, LinkRefused) else 404 if isinstance(error, NotFound) else 409
    if _wants_json(request):
        return _json({"detail": str(error)}, status)
    return HTMLResponse(ack_page.refused_page(str(error)), status, headers=ack_page.HEADERS)
