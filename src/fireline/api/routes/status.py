"""The status page and regulatory clocks.

`/status` and `/api/v2/summary.json` are public (no token): they show only what people
published and the component statuses. Everything else needs a token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from fireline.api.deps import FirelineDep, require
from fireline.domain.access import Permission
from fireline.status.page import render_page
from fireline.status.regulatory import RegulatoryClock
from fireline.status.service import ClockView, status_service
from fireline.status.summary import PublicStatus, PublicUpdate

router = APIRouter(tags=["status"])

IncidentId = Annotated[int, Path(ge=1, le=2**31 - 1)]
ClockId = Annotated[int, Path(ge=1, le=2**31 - 1)]
_Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
_Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5_000)]
_Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class UpdateIn(BaseModel):
    """A public update; `status` defaults to what the incident's lifecycle state reads as."""

    model_config = ConfigDict(extra="forbid")

    incident_id: Annotated[int, Field(ge=1, le=2**31 - 1)]
    body: _Text
    status: PublicStatus | None = None
    #: The incident's public name; the internal title is never shown.
    title: _Title | None = None


class UpdateOut(BaseModel):
    id: int
    incident_id: int
    status: str
    title: str | None
    body: str
    author: str
    created_at: datetime

    @classmethod
    def of(cls, update: PublicUpdate) -> UpdateOut:
        assert update.update_id is not None
        return cls(
            id=update.update_id,
            incident_id=update.incident_id,
            status=update.status.value,
            title=update.title,
            body=update.body,
            author=update.author,
            created_at=update.created_at,
        )


class ReportableIn(BaseModel):
    """Which regime's clock to start, and why; `aware_at` is when awareness began."""

    model_config = ConfigDict(extra="forbid")

    regime: _Name
    variant: _Name | None = None
    reason: _Text
    aware_at: AwareDatetime | None = None


class ClockOut(BaseModel):
    id: int
    incident_id: int
    regime: str
    title: str
    variant: str | None
    reason: str
    started_by: str
    started_at: datetime
    due_at: datetime
    overdue: bool
    seconds_left: float
    reported_at: datetime | None
    reported_by: str | None
    reminders_sent: list[str]

    @classmethod
    def of(cls, clock: RegulatoryClock, title: str, overdue: bool, now: datetime) -> ClockOut:
        assert clock.clock_id is not None
        return cls(
            id=clock.clock_id,
            incident_id=clock.incident_id,
            regime=clock.regime,
            title=title,
            variant=clock.variant,
            reason=clock.reason,
            started_by=clock.started_by,
            started_at=clock.started_at,
            due_at=clock.due_at,
            overdue=overdue,
            seconds_left=clock.remaining(now).total_seconds(),
            reported_at=clock.reported_at,
            reported_by=clock.reported_by,
            reminders_sent=list(clock.reminders_sent),
        )

    @classmethod
    def of_view(cls, view: ClockView, now: datetime) -> ClockOut:
        return cls.of(view.clock, view.title, view.overdue, now)


# ---------------------------------------------------------------- public


@router.get("/status", response_class=HTMLResponse, include_in_schema=False)
def status_page(instance: FirelineDep) -> HTMLResponse:
    """The public status page (no token)."""
    return HTMLResponse(render_page(status_service(instance).summary()))


@router.get("/api/v2/summary.json")
def summary_json(instance: FirelineDep) -> JSONResponse:
    """Statuspage-compatible summary (no token): page, status, components, incidents."""
    # Public and read-only: any site may embed it, as Statuspage's own allows.
    return JSONResponse(
        status_service(instance).summary(), headers={"Access-Control-Allow-Origin": "*"}
    )


# ---------------------------------------------------------------- updates


@router.post("/api/status/updates", response_model=UpdateOut, status_code=201)
def publish_update(
    body: UpdateIn, instance: FirelineDep, caller: Annotated[str, require(Permission.RESPOND)]
) -> UpdateOut:
    """Publish an update about an incident on the public status page."""
    stored = status_service(instance).publish(
        body.incident_id, body=body.body, author=caller, status=body.status, title=body.title
    )
    return UpdateOut.of(stored)


@router.get(
    "/api/status/updates",
    response_model=list[UpdateOut],
    dependencies=[require(Permission.READ_INCIDENTS)],
)
def list_updates(
    instance: FirelineDep,
    incident_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[UpdateOut]:
    """Published updates, newest first."""
    found = status_service(instance).updates(incident_id, limit=limit)
    return [UpdateOut.of(u) for u in found]


# ---------------------------------------------------------------- regulatory clocks


@router.post("/api/incidents/{incident_id}/reportable", response_model=ClockOut, status_code=201)
def mark_reportable(
    incident_id: IncidentId,
    body: ReportableIn,
    instance: FirelineDep,
    caller: Annotated[str, require(Permission.COMMAND)],
) -> ClockOut:
    """Mark an incident reportable under a regime: its clock starts, on the timeline."""
    service = status_service(instance)
    clock = service.mark_reportable(
        incident_id,
        regime=body.regime,
        variant=body.variant,
        reason=body.reason,
        actor=caller,
        aware_at=body.aware_at,
    )
    now = instance.clock.now()
    return ClockOut.of(clock, service.title_of(clock.regime), clock.overdue(now), now)


@router.get(
    "/api/regulatory/clocks",
    response_model=list[ClockOut],
    dependencies=[require(Permission.READ_INCIDENTS)],
)
def list_clocks(instance: FirelineDep, state: Literal["open", "all"] = "open") -> list[ClockOut]:
    """Regulatory clocks, soonest due first, with their deadlines and overdue flags."""
    views = status_service(instance).clocks(open_only=state == "open")
    now = instance.clock.now()
    return [ClockOut.of_view(v, now) for v in views]


@router.post("/api/regulatory/clocks/{clock_id}/reported", response_model=ClockOut)
def mark_reported(
    clock_id: ClockId, instance: FirelineDep, caller: Annotated[str, require(Permission.COMMAND)]
) -> ClockOut:
    """Stop a clock: the report was sent."""
    service = status_service(instance)
    clock = service.mark_reported(clock_id, actor=caller)
    now = instance.clock.now()
    return ClockOut.of(clock, service.title_of(clock.regime), clock.overdue(now), now)


@router.get(
    "/api/incidents/{incident_id}/regulatory-report",
    response_class=PlainTextResponse,
    dependencies=[require(Permission.READ_INCIDENTS)],
)
def regulatory_report(
    incident_id: IncidentId, instance: FirelineDep, regime: _Name | None = None
) -> PlainTextResponse:
    """A Markdown draft of the regulatory report, from the incident and its timeline."""
    text = status_service(instance).report(incident_id, regime)
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")
