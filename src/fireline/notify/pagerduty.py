"""PagerDuty Events API v2: trigger, acknowledge and resolve one alert by its dedup_key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from fireline.domain.severity import Severity
from fireline.notify.base import DeliveryError, Receivers, post_json, secret_from
from fireline.notify.config import PagerDutyChannel
from fireline.notify.message import Message

#: PagerDuty's severities are critical, error, warning and info.
SEVERITIES: Mapping[Severity | None, str] = {
    Severity.P0: "critical",
    Severity.P1: "error",
    Severity.P2: "warning",
    Severity.P3: "info",
    None: "info",
}
SUMMARY_LIMIT = 1024
DEDUP_KEY_LIMIT = 255


class PagerDutyNotifier:
    """Sends alert events to one Events API v2 integration; success is HTTP 202."""

    kind: ClassVar[str] = "pagerduty"

    def __init__(
        self,
        channel: str,
        routing_key: str,
        *,
        url: str = "https://events.pagerduty.com/v2/enqueue",
        source: str = "fireline",
        incident_url: str | None = None,
        timeout_s: float = 10,
    ) -> None:
        self.channel = channel
        self._routing_key = routing_key  # a credential: never logged, never in repr
        self.url = url
        self.source = source
        self.incident_url = incident_url
        self.timeout_s = timeout_s

    @classmethod
    def from_settings(
        cls, channel: str, settings: PagerDutyChannel, env: Mapping[str, str]
    ) -> PagerDutyNotifier:
        key = settings.routing_key
        if settings.routing_key_env is not None:
            key = secret_from(env, settings.routing_key_env, channel=channel, what="routing key")
        assert key is not None  # the settings hold exactly one of the two
        return cls(
            channel,
            key,
            url=settings.url,
            source=settings.source,
            incident_url=settings.incident_url,
            timeout_s=settings.timeout_s,
        )

    @classmethod
    def example(cls, receivers: Receivers) -> PagerDutyNotifier:
        return cls(
            "pagerduty-example",
            "0123456789abcdef0123456789abcdef",
            url=f"{receivers.http_url}/pagerduty/v2/enqueue",
        )

    def __repr__(self) -> str:
        return f"PagerDutyNotifier(channel={self.channel!r}, url={self.url!r})"

    @staticmethod
    def dedup_key(message: Message) -> str:
        """The alert's key: the message's correlation key, so ack and resolve find the trigger."""
        key = message.correlation_key or message.idempotency_key
        if not key:
            raise DeliveryError("pagerduty: a message needs a correlation key", retryable=False)
        return key[:DEDUP_KEY_LIMIT]

    def payload(self, message: Message) -> dict[str, Any]:
        """The event; acknowledge and resolve carry only the key (PagerDuty ignores the rest)."""
        event: dict[str, Any] = {
            "routing_key": self._routing_key,
            "event_action": message.action,
            "dedup_key": self.dedup_key(message),
        }
        if message.action != "trigger":
            return event
        details: dict[str, Any] = {"event": message.event.value, **message.details}
        if message.body:
            details["body"] = message.body
        if message.incident_id is not None:
            details["incident_id"] = message.incident_id
        payload: dict[str, Any] = {
            "summary": message.title[:SUMMARY_LIMIT] or message.event.value,
            "source": self.source,
            "severity": SEVERITIES[message.severity],
            "custom_details": details,
        }
        if message.created_at is not None:
            payload["timestamp"] = message.created_at.isoformat()
        if message.feature:
            payload["component"] = message.feature
        links = [{"href": link.href, "text": link.text} for link in message.links]
        if self.incident_url and message.incident_id is not None:
            href = self.incident_url.replace("{id}", str(message.incident_id))
            links.insert(0, {"href": href, "text": f"incident #{message.incident_id}"})
        event.update(payload=payload, client="fireline")
        if links:
            event["links"] = links
        return event

    def send(self, message: Message) -> None:
        post_json(self.url, self.payload(message), service="pagerduty", timeout_s=self.timeout_s)
