"""Notifications: the outbox, test messages to a channel, messages rendered for an incident."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from fireline.api.deps import FirelineDep, require
from fireline.api.schemas import ErrorOut
from fireline.domain.access import Permission
from fireline.errors import ConfigError, NotFound
from fireline.notify.base import DeliveryError
from fireline.notify.outbox import OutboxEntry, Status
from fireline.notify.service import notify_service

router = APIRouter(tags=["notifications"])
_Template = Annotated[str, Path(max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")]


class OutboxEntryOut(BaseModel):
    """One message of the outbox and what became of it."""

    id: int
    channel: str
    event: str
    incident_id: int | None
    title: str
    status: Status
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    dedup_key: str
    idempotency_key: str

    @classmethod
    def of(cls, entry: OutboxEntry) -> OutboxEntryOut:
        return cls(
            id=entry.entry_id,
            channel=entry.channel,
            event=entry.event,
            incident_id=entry.incident_id,
            title=entry.message.title,
            status=entry.status,
            attempts=entry.attempts,
            next_attempt_at=entry.next_attempt_at,
            last_error=entry.last_error,
            created_at=entry.created_at,
            delivered_at=entry.delivered_at,
            dedup_key=entry.dedup_key,
            idempotency_key=entry.idempotency_key,
        )


class TestSendOut(BaseModel):
    """The outcome of a test message: delivered, or why not and whether a retry may help."""

    channel: str
    delivered: bool
    retryable: bool | None = None
    error: str | None = None


class RenderedOut(BaseModel):
    incident_id: int
    template: str
    title: str
    body: str


class SentOut(BaseModel):
    incident_id: int
    template: str
    channels: list[str]


@router.get(
    "/api/notifications/outbox",
    response_model=list[OutboxEntryOut],
    dependencies=[require(Permission.READ_INCIDENTS)],
)
def list_outbox(
    instance: FirelineDep,
    status: Status | None = None,
    channel: Annotated[str | None, Query(max_length=128)] = None,
    incident_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[OutboxEntryOut]:
    """Messages newest first, with their delivery status, attempts and last error."""
    entries = notify_service(instance).outbox.list(
        status=status, channel=channel, incident_id=incident_id, limit=limit, offset=offset
    )
    return [OutboxEntryOut.of(entry) for entry in entries]


@router.post(
    "/api/notifications/outbox/{entry_id}/requeue",
    dependencies=[require(Permission.ADMIN)],
    responses={404: {"model": ErrorOut}},
)
def requeue(entry_id: int, instance: FirelineDep) -> dict[str, int]:
    """Send a dead message again (after fixing the channel), with a fresh count of attempts."""
    service = notify_service(instance)
    if not service.outbox.requeue(entry_id, service.clock.now()):
        raise NotFound(f"no dead outbox message {entry_id}")
    return {"requeued": entry_id}


@router.post(
    "/api/notifications/test/{channel}",
    response_model=TestSendOut,
    dependencies=[require(Permission.ADMIN)],
    responses={404: {"model": ErrorOut}, 502: {"model": TestSendOut}},
)
def send_test(
    channel: Annotated[str, Path(max_length=128)], instance: FirelineDep
) -> TestSendOut | JSONResponse:
    """Send a test message to `channel` now (not through the outbox); 502 if it was refused."""
    try:
        notify_service(instance).send_test(channel)
    except DeliveryError as error:
        out = TestSendOut(
            channel=channel, delivered=False, retryable=error.retryable, error=str(error)
        )
        return JSONResponse(out.model_dump(), status_code=502)
    except ConfigError as error:
        out = TestSendOut(channel=channel, delivered=False, retryable=False, error=str(error))
        return JSONResponse(out.model_dump(), status_code=502)
    return TestSendOut(channel=channel, delivered=True)


@router.get(
    "/api/incidents/{incident_id}/messages/{template}",
    response_model=RenderedOut,
    dependencies=[require(Permission.READ_INCIDENTS)],
    responses={404: {"model": ErrorOut}, 422: {"model": ErrorOut}},
)
def render_message(incident_id: int, template: _Template, instance: FirelineDep) -> RenderedOut:
    """The incident's message from `template` (internal, exec_brief, status_update,
    regulatory_report, or a user template), rendered as of now."""
    rendered = notify_service(instance).render(incident_id, template)
    return RenderedOut(
        incident_id=incident_id, template=template, title=rendered.title, body=rendered.body
    )


@router.post(
    "/api/incidents/{incident_id}/messages/{template}",
    response_model=SentOut,
    dependencies=[require(Permission.RESPOND)],
    responses={404: {"model": ErrorOut}, 422: {"model": ErrorOut}},
)
def send_message(incident_id: int, template: _Template, instance: FirelineDep) -> SentOut:
    """Send the incident's update from `template` through the outbox to the channels routed
    `incident.updated`; this resets the update-cadence clock."""
    channels = notify_service(instance).send_update(incident_id, template)
    return SentOut(incident_id=incident_id, template=template, channels=channels)
