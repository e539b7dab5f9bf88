"""The `notifications` section of fireline.yaml: channels, routes, people, templates, cadence.

Secrets never sit in the file: a channel names the environment variable that holds its
webhook secret, SMTP password, Slack URL or PagerDuty routing key.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from fireline.domain.severity import Severity
from fireline.notify.message import Event

_Name = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$")]
_EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
_Timeout = Annotated[float, Field(gt=0, le=120)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _http_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return value


def _exactly_one(literal: object, env: object, what: str) -> None:
    if (literal is None) == (env is None):
        raise ValueError(f"give exactly one of {what} and {what}_env")


class SlackChannel(_Model):
    """A Slack incoming webhook; its URL is a secret, so prefer `url_env`."""

    type: Literal["slack"]
    url: str | None = None
    url_env: _EnvName | None = None
    timeout_s: _Timeout = 10

    _check_url = field_validator("url")(_http_url)

    @model_validator(mode="after")
    def _one_url(self) -> Self:
        _exactly_one(self.url, self.url_env, "url")
        return self


class PagerDutyChannel(_Model):
    """A PagerDuty service, through its Events API v2 integration."""

    type: Literal["pagerduty"]
    routing_key: str | None = None
    routing_key_env: _EnvName | None = None
    url: str = "https://events.pagerduty.com/v2/enqueue"
    #: `payload.source`: where the problem is; the feature's name is sent as `component`.
    source: str = "fireline"
    #: Where responders open the incident; `{id}` is replaced by the incident's number.
    incident_url: str | None = None
    timeout_s: _Timeout = 10

    _check_url = field_validator("url", "incident_url")(_http_url)

    @model_validator(mode="after")
    def _one_key(self) -> Self:
        _exactly_one(self.routing_key, self.routing_key_env, "routing_key")
        return self


class EmailChannel(_Model):
    """E-mail through an SMTP server."""

    type: Literal["email"]
    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 25
    sender: str
    to: tuple[str, ...] = ()
    #: "starttls" upgrades a plain connection; "ssl" connects with TLS at once (port 465).
    tls: Literal["none", "starttls", "ssl"] = "none"
    username: str | None = None
    password_env: _EnvName | None = None
    timeout_s: _Timeout = 10

    @model_validator(mode="after")
    def _login(self) -> Self:
        if (self.username is None) != (self.password_env is None):
            raise ValueError("give both username and password_env, or neither")
        return self


class WebhookChannel(_Model):
    """Any HTTP endpoint; each request is signed with HMAC-SHA256 (Standard Webhooks)."""

    type: Literal["webhook"]
    url: str
    #: The variable holding the signing secret (raw text, or `whsec_` + base64).
    secret_env: _EnvName
    timeout_s: _Timeout = 10

    _check_url = field_validator("url")(_http_url)


Channel = Annotated[
    SlackChannel | PagerDutyChannel | EmailChannel | WebhookChannel, Field(discriminator="type")
]


def channel_types() -> frozenset[str]:
    """The `type` of every kind of channel the file may name."""
    members = typing.get_args(typing.get_args(Channel)[0])
    return frozenset(
        typing.get_args(member.model_fields["type"].annotation)[0] for member in members
    )


class Route(_Model):
    """Which channels get which events of which severities (all of them when unset)."""

    channels: Annotated[tuple[_Name, ...], Field(min_length=1)]
    events: frozenset[Event] | None = None
    severities: frozenset[Severity] | None = None

    def matches(self, event: Event, severity: Severity | None) -> bool:
        if self.events is not None and event not in self.events:
            return False
        return self.severities is None or severity is None or severity in self.severities


class Contact(_Model):
    """One way to reach a person: a channel, and their address on it (for e-mail)."""

    channel: _Name
    address: str | None = None


class Retry(_Model):
    """How the outbox retries: exponential backoff with jitter, then dead."""

    max_attempts: Annotated[int, Field(ge=1, le=100)] = 10
    base_delay_s: Annotated[float, Field(gt=0)] = 15
    max_delay_s: Annotated[float, Field(gt=0)] = 1800
    #: How long a message taken for sending is left alone before another worker may retry
    #: it; covers a crash in the middle of a send.
    lease_s: Annotated[float, Field(gt=0)] = 120


class Cadence(_Model):
    """Minutes between updates while an incident is open, per severity (none: no reminder)."""

    P0: Annotated[float, Field(gt=0)] | None = 30
    P1: Annotated[float, Field(gt=0)] | None = 30
    P2: Annotated[float, Field(gt=0)] | None = None
    P3: Annotated[float, Field(gt=0)] | None = None

    def minutes(self, severity: Severity) -> float | None:
        value: float | None = getattr(self, severity.value)
        return value


class NotifySettings(_Model):
    """Settings of this area; every one has a default, so no file is needed."""

    channels: dict[_Name, Channel] = Field(default_factory=dict)
    routes: tuple[Route, ...] = ()
    people: dict[_Name, tuple[Contact, ...]] = Field(default_factory=dict)
    #: A directory whose `<name>.j2` files replace the shipped templates of the same name.
    templates_dir: Path | None = None
    cadence: Cadence = Field(default_factory=Cadence)
    retry: Retry = Field(default_factory=Retry)
    #: Seconds between two rounds of the delivery worker of `fireline serve`.
    deliver_interval_s: Annotated[float, Field(gt=0, le=3600)] = 5
    #: The base URL of fireline's API as people reach it, for links in messages.
    public_url: str | None = None

    _check_url = field_validator("public_url")(_http_url)

    @field_validator("routes")
    @classmethod
    def _routes_to_known_channels(
        cls, routes: tuple[Route, ...], info: ValidationInfo
    ) -> tuple[Route, ...]:
        if "channels" not in info.data:  # the channels failed validation: said already
            return routes
        known = info.data["channels"]
        for index, route in enumerate(routes):
            for name in route.channels:
                if name not in known:
                    raise ValueError(f"routes[{index}]: no channel named {name!r}")
        return routes

    @field_validator("people")
    @classmethod
    def _people_on_known_channels(
        cls, people: dict[str, tuple[Contact, ...]], info: ValidationInfo
    ) -> dict[str, tuple[Contact, ...]]:
        if "channels" not in info.data:
            return people
        known = info.data["channels"]
        for person, contacts in people.items():
            for contact in contacts:
                if contact.channel not in known:
                    raise ValueError(f"{person}: no channel named {contact.channel!r}")
        return people

    def channels_for(self, event: Event, severity: Severity | None) -> list[str]:
        """The channels routed `event` at `severity`, each once, in the order of the file."""
        found: dict[str, None] = {}
        for route in self.routes:
            if route.matches(event, severity):
                found.update(dict.fromkeys(route.channels))
        return list(found)


__all__ = [
    "Cadence",
    "Channel",
    "Contact",
    "EmailChannel",
    "NotifySettings",
    "PagerDutyChannel",
    "Retry",
    "Route",
    "SlackChannel",
    "WebhookChannel",
    "channel_types",
]
