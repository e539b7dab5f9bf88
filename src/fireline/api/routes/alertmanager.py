"""Alerts in from Prometheus Alertmanager: its webhook receiver (payload version 4).

See docs/alertmanager.md for the Alertmanager side and the label mapping.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from fireline.api.deps import FirelineDep, require
from fireline.api.routes.ingest import read_json
from fireline.api.schemas import ErrorOut
from fireline.domain.access import Permission
from fireline.domain.alert import Alert
from fireline.ingest.alertmanager import Skipped, WebhookEvents, map_webhook
from fireline.runtime import Fireline

log = logging.getLogger("fireline.api.alertmanager")

router = APIRouter(tags=["ingest"])


class SkippedOut(BaseModel):
    """An alert fireline did not act on; `index` is its place in the payload's `alerts`."""

    index: int
    status: str
    alertname: str | None
    fingerprint: str
    reason: str

    @classmethod
    def of(cls, skipped: Skipped) -> SkippedOut:
        return cls(
            index=skipped.index,
            status=skipped.status,
            alertname=skipped.alertname,
            fingerprint=skipped.fingerprint,
            reason=skipped.reason,
        )


class AlertmanagerOut(BaseModel):
    """What one webhook did.

    `processed` = `fired` + `resolved` + `unchanged`; `received` = `processed` + skipped.
    `unchanged` counts Alertmanager's repeats: a firing alert fireline already holds open, a
    resolved one it holds no open alert for.
    """

    received: int
    processed: int
    fired: int
    resolved: int
    unchanged: int
    skipped: list[SkippedOut]
    incident_ids: list[int]
    truncated_alerts: int


@dataclass
class _Outcome:
    fired: int = 0
    resolved: int = 0
    unchanged: int = 0
    incident_ids: set[int] = field(default_factory=set)


@router.post(
    "/v1/alertmanager",
    dependencies=[require(Permission.INGEST)],
    response_model=AlertmanagerOut,
    responses={413: {"model": ErrorOut}, 422: {"model": ErrorOut}},
)
async def receive_alertmanager(request: Request, instance: FirelineDep) -> AlertmanagerOut:
    """Alertmanager's webhook: firing alerts open or join incidents, resolved ones recover.

    Alerts without the feature label are skipped (and reported) with a 200, so that
    Alertmanager does not retry them; a malformed payload is refused whole with a 422.
    """
    payload = await read_json(request)
    events, outcome = await run_in_threadpool(_receive, instance, payload)
    if events.skipped:
        log.warning(
            "alertmanager webhook: skipped %d of %d alerts: %s",
            len(events.skipped),
            events.received,
            "; ".join(f"alerts[{s.index}] {s.alertname}: {s.reason}" for s in events.skipped),
        )
    if events.truncated_alerts:
        log.warning(
            "alertmanager webhook: Alertmanager left out %d alerts (max_alerts of the receiver)",
            events.truncated_alerts,
        )
    processed = outcome.fired + outcome.resolved + outcome.unchanged
    return AlertmanagerOut(
        received=events.received,
        processed=processed,
        fired=outcome.fired,
        resolved=outcome.resolved,
        unchanged=outcome.unchanged,
        skipped=[SkippedOut.of(s) for s in events.skipped],
        incident_ids=sorted(outcome.incident_ids),
        truncated_alerts=events.truncated_alerts,
    )


def _receive(instance: Fireline, payload: Any) -> tuple[WebhookEvents, _Outcome]:
    """Map the payload, then apply all its events in one transaction under the tick lock."""
    events = map_webhook(payload, feature_label=instance.config.alertmanager.feature_label)
    outcome = _Outcome()
    if not events.events:
        return events, outcome
    service = instance.incidents
    # No tick or resolve deciding on the same incidents may interleave with this.
    with instance.responding() as tx:
        for event in events.events:
            open_alert = tx.open_alert(event.detector, event.feature)
            if isinstance(event, Alert):
                if open_alert is not None:  # Alertmanager repeats firing alerts: no-op
                    outcome.unchanged += 1
                    if open_alert.incident_id is not None:
                        outcome.incident_ids.add(open_alert.incident_id)
                    continue
                incident = service.on_alert(tx, event)
                outcome.fired += 1
            else:
                if open_alert is None:  # never seen, already recovered, or resolved by hand
                    outcome.unchanged += 1
                    continue
                recovered = service.on_recovery(tx, event)
                outcome.resolved += 1
                if recovered is None:
                    continue
                incident = recovered
            if incident.incident_id is not None:
                outcome.incident_ids.add(incident.incident_id)
    return events, outcome
