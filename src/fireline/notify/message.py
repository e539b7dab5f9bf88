"""What a channel sends: one message about one event, independent of the channel's format."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from fireline.domain.severity import Severity


class Event(StrEnum):
    """What a message is about; routes pick channels by event."""

    INCIDENT_OPENED = "incident.opened"
    INCIDENT_ACKNOWLEDGED = "incident.acknowledged"
    INCIDENT_UPDATED = "incident.updated"
    SEVERITY_CHANGED = "incident.severity_changed"
    INCIDENT_RESOLVED = "incident.resolved"
    UPDATE_DUE = "reminder.update_due"
    PAGE = "page"
    TEST = "test"


#: The state of the alert a message speaks of, for channels that keep one (PagerDuty).
Action = Literal["trigger", "acknowledge", "resolve"]

ACTIONS: Mapping[Event, Action] = {
    Event.INCIDENT_ACKNOWLEDGED: "acknowledge",
    Event.INCIDENT_RESOLVED: "resolve",
}


@dataclass(frozen=True, slots=True)
class Link:
    """A link shown with a message (the incident, an acknowledgement link)."""

    href: str
    text: str


@dataclass(frozen=True, slots=True)
class Message:
    """One notification: a title line, a plain-text body, and what channels need around it."""

    event: Event
    title: str
    body: str
    severity: Severity | None = None
    incident_id: int | None = None
    feature: str | None = None
    #: Same for every message about the same thing (an incident): PagerDuty's dedup_key,
    #: e-mail threading. Retries and updates share it.
    correlation_key: str | None = None
    links: tuple[Link, ...] = ()
    details: Mapping[str, str | int | float | bool | None] = field(default_factory=dict)
    #: Addresses that replace the channel's own recipients (a person's e-mail, for a page).
    to: tuple[str, ...] = ()
    created_at: datetime | None = None
    #: Set by the outbox: the same on every retry, so receivers can drop duplicates.
    idempotency_key: str = ""

    @property
    def action(self) -> Action:
        return ACTIONS.get(self.event, "trigger")

    def keyed(self, idempotency_key: str) -> Message:
        return replace(self, idempotency_key=idempotency_key)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict that `from_json` turns back into this message."""
        return {
            "event": self.event.value,
            "title": self.title,
            "body": self.body,
            "severity": None if self.severity is None else self.severity.value,
            "incident_id": self.incident_id,
            "feature": self.feature,
            "correlation_key": self.correlation_key,
            "links": [{"href": link.href, "text": link.text} for link in self.links],
            "details": dict(self.details),
            "to": list(self.to),
            "created_at": None if self.created_at is None else self.created_at.isoformat(),
            "idempotency_key": self.idempotency_key,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Message:
        created = data.get("created_at")
        severity = data.get("severity")
        return cls(
            event=Event(data["event"]),
            title=data["title"],
            body=data["body"],
            severity=None if severity is None else Severity(severity),
            incident_id=data.get("incident_id"),
            feature=data.get("feature"),
            correlation_key=data.get("correlation_key"),
            links=tuple(Link(item["href"], item["text"]) for item in data.get("links", ())),
            details=dict(data.get("details", {})),
            to=tuple(data.get("to", ())),
            created_at=None if created is None else datetime.fromisoformat(created),
            idempotency_key=data.get("idempotency_key", ""),
        )


def idempotency_key(channel: str, dedup_key: str) -> str:
    """The key a message keeps on every retry: short, header-safe, the same after a restart.

    >>> idempotency_key("ops", "incident:1:opened") == idempotency_key("ops", "incident:1:opened")
    True
    """
    digest = hashlib.sha256(f"{channel}\x00{dedup_key}".encode()).hexdigest()
    return f"msg_{digest[:32]}"


def incident_key(incident_id: int) -> str:
    """The correlation key of every message about incident `incident_id`."""
    return f"fireline-incident-{incident_id}"


def split_rendered(text: str) -> tuple[str, str]:
    """A rendered template's first non-empty line is the title, the rest the body.

    >>> split_rendered("\\nTitle\\n\\nbody\\n")
    ('Title', 'body')
    """
    lines = text.strip().splitlines()
    if not lines:
        return "", ""
    return lines[0].strip(), "\n".join(lines[1:]).strip()
