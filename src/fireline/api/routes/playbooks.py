"""Playbooks: the runbooks in use, and the one attached to an incident with its checklist."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from fireline.api.deps import FirelineDep, require
from fireline.api.schemas import ErrorOut
from fireline.domain.access import Permission
from fireline.playbooks.engine import Attached
from fireline.playbooks.model import Playbook
from fireline.playbooks.service import PlaybookService, playbook_service

router = APIRouter(tags=["playbooks"])

IncidentId = Annotated[int, Path(ge=1, le=2**31 - 1)]
PlaybookId = Annotated[str, Path(max_length=64)]
StepId = Annotated[str, Path(max_length=64)]
_Errors: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut}, 422: {"model": ErrorOut}}


class PlaybookSummaryOut(BaseModel):
    id: str
    title: str
    summary: str
    incident_types: list[str]
    signals: list[str]
    #: "builtin", or the file it was read from.
    origin: str


class PlaybookOut(PlaybookSummaryOut):
    """A whole playbook, as its file defines it."""

    playbook: dict[str, Any]


class StepStateOut(BaseModel):
    id: str
    title: str
    section: str
    details: str
    automatic: str | None
    done: bool
    done_by: str | None
    done_at: datetime | None


class IncidentPlaybookOut(BaseModel):
    """The playbook attached to an incident, its checklist, and its messages rendered."""

    incident_id: int
    playbook: PlaybookSummaryOut
    attached_at: datetime
    steps_done: int
    steps_total: int
    steps: list[StepStateOut]
    messages: dict[str, str]


class AttachIn(BaseModel):
    """The playbook to follow; without one, the best match for the incident."""

    model_config = ConfigDict(extra="forbid")

    playbook: str | None = Field(default=None, max_length=64)


def _summary(playbook: Playbook, service: PlaybookService) -> PlaybookSummaryOut:
    """A playbook's heading, with where the service read it from."""
    return PlaybookSummaryOut(
        id=playbook.id,
        title=playbook.title,
        summary=playbook.summary.strip(),
        incident_types=[t.value for t in playbook.detection.incident_types],
        signals=list(playbook.detection.signals),
        origin=service.origin(playbook.id),
    )


def _incident_out(found: Attached, service: PlaybookService) -> IncidentPlaybookOut:
    assert found.incident.incident_id is not None
    return IncidentPlaybookOut(
        incident_id=found.incident.incident_id,
        playbook=_summary(found.playbook, service),
        attached_at=found.attached_at,
        steps_done=found.done,
        steps_total=len(found.steps),
        steps=[
            StepStateOut(
                id=s.step.id,
                title=s.step.title,
                section=s.step.section.value,
                details=s.step.details.strip(),
                automatic=s.step.automatic,
                done=s.done,
                done_by=s.done_by,
                done_at=s.done_at,
            )
            for s in found.steps
        ],
        messages=found.messages(),
    )


@router.get(
    "/api/playbooks",
    response_model=list[PlaybookSummaryOut],
    dependencies=[require(Permission.READ_INCIDENTS)],
)
def list_playbooks(instance: FirelineDep) -> list[PlaybookSummaryOut]:
    """Every playbook in use: the built-in ones and the configured directory's."""
    service = playbook_service(instance)
    return [_summary(p, service) for p in service.playbooks()]


@router.get(
    "/api/playbooks/{playbook_id}",
    response_model=PlaybookOut,
    dependencies=[require(Permission.READ_INCIDENTS)],
    responses={404: {"model": ErrorOut}},
)
def get_playbook(playbook_id: PlaybookId, instance: FirelineDep) -> PlaybookOut:
    """One playbook with its detection, severity guidance, steps and templates."""
    service = playbook_service(instance)
    playbook = service.get(playbook_id)
    return PlaybookOut(
        **_summary(playbook, service).model_dump(),
        playbook=playbook.model_dump(mode="json"),
    )


@router.get(
    "/api/incidents/{incident_id}/playbook",
    response_model=IncidentPlaybookOut,
    dependencies=[require(Permission.READ_INCIDENTS)],
    responses={404: {"model": ErrorOut}},
)
def incident_playbook(incident_id: IncidentId, instance: FirelineDep) -> IncidentPlaybookOut:
    """The incident's playbook: each step done or not, and its messages rendered."""
    service = playbook_service(instance)
    found = service.for_incident(incident_id)
    return _incident_out(found, service)


@router.post(
    "/api/incidents/{incident_id}/playbook",
    response_model=IncidentPlaybookOut,
    status_code=201,
    responses={**_Errors, 409: {"model": ErrorOut}},
)
def attach_playbook(
    incident_id: IncidentId,
    instance: FirelineDep,
    caller: Annotated[str, require(Permission.RESPOND)],
    body: AttachIn | None = None,
) -> IncidentPlaybookOut:
    """Attach a playbook to an open incident that has none, and run its automatic steps."""
    service = playbook_service(instance)
    found = service.attach(incident_id, actor=caller, playbook_id=body.playbook if body else None)
    return _incident_out(found, service)


@router.post(
    "/api/incidents/{incident_id}/playbook/steps/{step}",
    response_model=IncidentPlaybookOut,
    responses=_Errors,
)
def tick_step(
    incident_id: IncidentId,
    step: StepId,
    instance: FirelineDep,
    caller: Annotated[str, require(Permission.RESPOND)],
) -> IncidentPlaybookOut:
    """Mark a step of the incident's playbook done; the caller goes on the timeline."""
    service = playbook_service(instance)
    found = service.tick(incident_id, step, actor=caller)
    return _incident_out(found, service)
