"""The notifier contract, its typed delivery error, and the HTTP plumbing notifiers share."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import httpx

from fireline.errors import ConfigError, FirelineError
from fireline.notify.message import Message

USER_AGENT = "fireline-notify"


class DeliveryError(FirelineError):
    """A message a receiver did not take; `retryable` says whether trying later may help."""

    def __init__(self, message: str, *, retryable: bool, retry_after_s: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class Receivers:
    """Where a notifier's example sends: an HTTP base URL and an SMTP server (tests)."""

    http_url: str
    smtp_host: str
    smtp_port: int


class Notifier(Protocol):
    """One channel: `send` delivers a message or raises DeliveryError, nothing else."""

    kind: ClassVar[str]
    channel: str

    def send(self, message: Message) -> None: ...


def retryable_status(status: int) -> bool:
    """Whether an HTTP answer says "later" rather than "never" (throttled, or server-side).

    >>> [retryable_status(s) for s in (400, 404, 408, 429, 500, 503)]
    [False, False, True, True, True, True]
    """
    return status in (408, 425, 429) or status >= 500


def post_json(
    url: str,
    body: Mapping[str, Any],
    *,
    service: str,
    timeout_s: float,
    headers: Mapping[str, str] | None = None,
    content: bytes | None = None,
) -> httpx.Response:
    """POST `body` as JSON; return a 2xx answer or raise DeliveryError.

    Errors never carry the URL: for Slack the URL is the secret.
    """
    payload = content if content is not None else json.dumps(body).encode()
    try:
        response = httpx.post(
            url,
            content=payload,
            headers={
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                **(headers or {}),
            },
            timeout=timeout_s,
        )
    except httpx.TransportError as error:
        detail = str(error).replace(url, "<url>") or "no detail"
        raise DeliveryError(
            f"{service}: cannot reach the receiver ({type(error).__name__}: {detail})",
            retryable=True,
        ) from None
    if response.is_success:
        return response
    raise DeliveryError(
        f"{service}: HTTP {response.status_code} {_excerpt(response.text)}".rstrip(),
        retryable=retryable_status(response.status_code),
        retry_after_s=_retry_after(response),
    )


def _excerpt(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds, when the receiver says it (HTTP dates are ignored)."""
    value = response.headers.get("Retry-After", "")
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def secret_from(env: Mapping[str, str], name: str, *, channel: str, what: str) -> str:
    """The value of environment variable `name`, or a ConfigError naming it (not its value)."""
    value = env.get(name, "")
    if not value:
        raise ConfigError(
            "notifications", None, f"channel {channel!r}: {what} variable {name} is not set"
        )
    return value
