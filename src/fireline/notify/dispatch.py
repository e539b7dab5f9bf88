"""From incident changes to outbox messages: routing, pages to people, cadence reminders.

Every function here writes in the caller's state transaction, so a message exists exactly
when the change it tells of was committed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fireline.domain.incident import Incident
from fireline.errors import NotFound
from fireline.notify.cadence import Reminder, due_reminders
from fireline.notify.config import NotifySettings
from fireline.notify.message import Event, Link, Message, incident_key
from fireline.notify.outbox import enqueue, last_sent_at
from fireline.notify.templates import Rendered, Templates, incident_context
from fireline.store.state import StateTx

#: Messages that count as an update to the incident's audiences, for the cadence.
UPDATE_EVENTS: tuple[str, ...] = (Event.INCIDENT_OPENED.value, Event.INCIDENT_UPDATED.value)


def context_for(
    tx: StateTx, incident: Incident, *, now: datetime, settings: NotifySettings
) -> dict[str, Any]:
    """The template context of a stored incident: its timeline, alerts and links."""
    assert incident.incident_id is not None
    return incident_context(
        incident,
        now=now,
        timeline=tx.timeline(incident.incident_id),
        alerts=tx.alerts(incident_id=incident.incident_id),
        links=incident_links(settings, incident),
        next_update_minutes=settings.cadence.minutes(incident.severity),
    )


def incident_links(settings: NotifySettings, incident: Incident) -> dict[str, str]:
    if settings.public_url is None or incident.incident_id is None:
        return {}
    base = settings.public_url.rstrip("/")
    return {"incident": f"{base}/api/incidents/{incident.incident_id}"}


def message_for(
    incident: Incident,
    event: Event,
    rendered: Rendered,
    *,
    links: Mapping[str, str] | None = None,
    to: tuple[str, ...] = (),
) -> Message:
    return Message(
        event=event,
        title=rendered.title,
        body=rendered.body,
        severity=incident.severity,
        incident_id=incident.incident_id,
        feature=incident.feature,
        correlation_key=None
        if incident.incident_id is None
        else incident_key(incident.incident_id),
        links=tuple(Link(href, text) for text, href in (links or {}).items()),
        details={"state": incident.state.value, "type": incident.type.value},
        to=to,
    )


def notify_incident(
    tx: StateTx,
    settings: NotifySettings,
    templates: Templates,
    incident: Incident,
    event: Event,
    *,
    now: datetime,
    template: str = "internal",
    dedup_key: str | None = None,
) -> list[str]:
    """Render `template` for the incident and enqueue it on every channel routed `event`;
    return those channels. The default key makes a retried transaction enqueue nothing new."""
    channels = settings.channels_for(event, incident.severity)
    if not channels:
        return []
    context = context_for(tx, incident, now=now, settings=settings)
    message = message_for(
        incident, event, templates.render(template, context), links=context["links"]
    )
    key = dedup_key or f"incident:{incident.incident_id}:{event.value}:{now.isoformat()}"
    for channel in channels:
        enqueue(tx, channel, message, key, now=now)
    return channels


def enqueue_page(
    tx: StateTx,
    settings: NotifySettings,
    templates: Templates,
    incident: Incident,
    person: str,
    ack_url: str,
    *,
    now: datetime,
    attempt: int = 1,
    tier: int | None = None,
) -> list[str]:
    """Page `person` about the incident on each of their contact channels, with the signed
    acknowledgement link; return the channels. Each attempt (a repeat until acknowledged)
    is a new message; the same attempt enqueued twice is one."""
    contacts = settings.people.get(person)
    if not contacts:
        raise NotFound(f"no contact channels are configured for {person!r} (notifications.people)")
    context = context_for(tx, incident, now=now, settings=settings)
    links = {"Acknowledge": ack_url, **context["links"]}
    rendered = templates.render("internal", context)
    tier_text = f", tier {tier}" if tier is not None else ""
    paged = Rendered(rendered.template, f"Page{tier_text}: {rendered.title}", rendered.body)
    dedup_key = f"page:{incident.incident_id}:{person}:{attempt}"
    for contact in contacts:
        to = (contact.address,) if contact.address else ()
        message = message_for(incident, Event.PAGE, paged, links=links, to=to)
        enqueue(tx, contact.channel, message, dedup_key, now=now)
    return [contact.channel for contact in contacts]


def enqueue_due_reminders(
    tx: StateTx, settings: NotifySettings, *, now: datetime
) -> list[Reminder]:
    """Remind the routed channels of every open incident whose update is overdue."""
    incidents = tx.list_incidents(open_only=True, limit=10_000)
    pairs = [
        (incident, last_sent_at(tx, incident.incident_id, UPDATE_EVENTS))
        for incident in incidents
        if incident.incident_id is not None
    ]
    reminders = due_reminders(pairs, now, settings.cadence)
    by_id = {incident.incident_id: incident for incident in incidents}
    for reminder in reminders:
        incident = by_id[reminder.incident_id]
        minutes = int(reminder.interval.total_seconds() // 60)
        message = Message(
            event=Event.UPDATE_DUE,
            title=f"Update due: [{incident.severity}] #{incident.incident_id} {incident.title}",
            body=(
                f"No update has been sent since {reminder.last_update_at:%Y-%m-%d %H:%M} UTC; "
                f"{incident.severity} incidents get one every {minutes} minutes."
            ),
            severity=incident.severity,
            incident_id=incident.incident_id,
            feature=incident.feature,
            correlation_key=incident_key(reminder.incident_id),
            links=tuple(Link(h, t) for t, h in incident_links(settings, incident).items()),
            created_at=now,
        )
        for channel in settings.channels_for(Event.UPDATE_DUE, incident.severity):
            enqueue(tx, channel, message, reminder.dedup_key, now=now)
    return reminders
