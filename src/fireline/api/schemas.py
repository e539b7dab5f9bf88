"""Response bodies of the API, separate from the domain types they render."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints

from fireline.domain.alert import Alert
from fireline.domain.guard import Guard
from fireline.domain.incident import Incident, TimelineEntry
from fireline.domain.severity import response_due
from fireline.domain.telemetry import Change
from fireline.scan.base import Hit
from fireline.store.scans import StoredHit


class GuardOut(BaseModel):
    """What an app must do for a feature; `enabled` is false from level 4 (kill switch) up."""

    feature: str
    level: int
    name: str
    description: str
    enabled: bool
    probe_share: float
    reason: str | None
    incident_id: int | None
    set_by: str | None
    updated_at: datetime | None
    #: Versions pinned by a rollback, by kind (model, prompt, index): use these instead.
    routing: dict[str, str] = {}
    #: Share of requests the app may serve (1: all).
    throttle: float = 1.0
    #: The segment the guard applies to ({} = the whole feature).
    segment: dict[str, str] = {}
    #: Block patterns (regular expressions) for inputs and outputs.
    filters: dict[str, list[str]] = {"input": [], "output": []}
    #: Staged restoration: share of users (or sessions) back on the normal path, the salt
    #: they are hashed with, and the unit hashed ("user" or "session").
    restore_share: float = 0.0
    restore_salt: str | None = None
    restore_unit: str = "user"
    #: Where fallback mode (level 3) sends requests, from configuration: model,
    #: prompt_version, index_version and/or path (a rule-based path of the app); {} if none.
    fallback: dict[str, str] = {}

    @classmethod
    def of(cls, guard: Guard) -> GuardOut:
        return cls(
            feature=guard.feature,
            level=int(guard.level),
            name=guard.level.slug,
            description=guard.level.description,
            enabled=guard.enabled,
            probe_share=guard.probe_share,
            reason=guard.reason,
            incident_id=guard.incident_id,
            set_by=guard.set_by,
            updated_at=guard.updated_at,
            routing=dict(guard.routing),
            throttle=guard.throttle,
            segment=dict(guard.segment),
            filters=guard.filters,
            restore_share=guard.restore_share,
            restore_salt=guard.restore_salt,
            restore_unit=guard.restore_unit,
            fallback=dict(guard.fallback),
        )


class IncidentOut(BaseModel):
    id: int
    feature: str
    type: str
    severity: str
    response_target: str
    response_due: datetime
    state: str
    title: str
    detected_at: datetime
    state_times: dict[str, datetime]
    acknowledged_at: datetime | None = None
    #: NIST AI RMF characteristic harmed, and the recurrence key.
    nist: str | None = None
    fingerprint: str | None = None

    @classmethod
    def of(cls, incident: Incident) -> IncidentOut:
        assert incident.incident_id is not None
        return cls(
            id=incident.incident_id,
            feature=incident.feature,
            type=incident.type.value,
            severity=incident.severity.value,
            response_target=incident.severity.response_target,
            response_due=response_due(incident.severity, incident.detected_at),
            state=incident.state.value,
            title=incident.title,
            detected_at=incident.detected_at,
            state_times={state.value: at for state, at in incident.state_times.items()},
            acknowledged_at=incident.acknowledged_at,
            nist=incident.nist,
            fingerprint=incident.fingerprint,
        )


class AlertOut(BaseModel):
    id: int | None
    detector: str
    feature: str
    signal: str
    fired_at: datetime
    window_start: datetime
    window_end: datetime
    baseline_value: float
    current_value: float
    p_value: float
    evidence: dict[str, Any]
    resolved_at: datetime | None

    @classmethod
    def of(cls, alert: Alert) -> AlertOut:
        return cls(
            id=alert.alert_id,
            detector=alert.detector,
            feature=alert.feature,
            signal=alert.signal,
            fired_at=alert.fired_at,
            window_start=alert.window_start,
            window_end=alert.window_end,
            baseline_value=alert.baseline_value,
            current_value=alert.current_value,
            p_value=alert.p_value,
            evidence=dict(alert.evidence),
            resolved_at=alert.resolved_at,
        )


class TimelineOut(BaseModel):
    at: datetime
    actor: str
    kind: str
    message: str
    data: dict[str, Any]

    @classmethod
    def of(cls, entry: TimelineEntry) -> TimelineOut:
        return cls(
            at=entry.at,
            actor=entry.actor,
            kind=entry.kind,
            message=entry.message,
            data=dict(entry.data),
        )


class ChecklistStepOut(BaseModel):
    """One step of the first-hour triage clock."""

    step: str
    title: str
    due_at: datetime
    done_at: datetime | None
    overdue: bool


class IncidentDetailOut(IncidentOut):
    alerts: list[AlertOut]
    timeline: list[TimelineOut]
    #: The first-hour triage clock, overdue steps flagged.
    checklist: list[ChecklistStepOut] = []
    #: Who holds each response role now.
    roles: dict[str, str] = {}


class IngestOut(BaseModel):
    """`late` calls are stored but older than what detection has already evaluated."""

    accepted: int
    duplicates: int
    late: int


class ResolveIn(BaseModel):
    """Why the incident is resolved; who resolves it is the caller's token."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(min_length=1, max_length=2_000)]


class ProblemOut(BaseModel):
    row: int | None
    field: str | None
    message: str


class ErrorOut(BaseModel):
    detail: str
    problems: list[ProblemOut] = []


class ChangeOut(BaseModel):
    id: str
    time: datetime
    kind: str
    version: str
    feature: str | None
    previous_version: str | None
    author: str | None
    description: str | None

    @classmethod
    def of(cls, change: Change) -> ChangeOut:
        return cls(
            id=change.change_id,
            time=change.time,
            kind=change.kind.value,
            version=change.version,
            feature=change.feature,
            previous_version=change.previous_version,
            author=change.author,
            description=change.description,
        )


class HitOut(BaseModel):
    """One scanner finding in a call; `start`/`end` locate it in the text of `part`."""

    scanner: str
    kind: str
    part: str
    start: int | None
    end: int | None
    score: float
    detail: str

    @classmethod
    def of(cls, hit: Hit) -> HitOut:
        return cls(
            scanner=hit.scanner,
            kind=hit.kind,
            part=hit.part.value,
            start=hit.start,
            end=hit.end,
            score=hit.score,
            detail=hit.detail,
        )


class StoredHitOut(HitOut):
    """A hit with the call it was found in."""

    call_id: str
    time: datetime
    feature: str

    @classmethod
    def of_stored(cls, stored: StoredHit) -> StoredHitOut:
        found = HitOut.of(stored.hit).model_dump()
        return cls(call_id=stored.call_id, time=stored.time, feature=stored.feature, **found)


class ScanCountOut(BaseModel):
    """How many calls of a feature had hits of one kind."""

    feature: str
    scanner: str
    kind: str
    calls: int
