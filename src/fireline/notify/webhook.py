"""Generic webhooks signed with HMAC-SHA256, in the Standard Webhooks scheme.

Each request carries `webhook-id` (the message's idempotency key: the same on every retry),
`webhook-timestamp` (Unix seconds of this attempt) and `webhook-signature`
(`v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`). A receiver recomputes the HMAC over
the raw body, compares in constant time, and refuses timestamps too far from its clock, so a
captured request cannot be replayed later.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from fireline.notify.base import Receivers, post_json, secret_from
from fireline.notify.config import WebhookChannel
from fireline.notify.message import Message

#: How far a timestamp may be from the receiver's clock (the Standard Webhooks default).
TOLERANCE_S = 300


def secret_bytes(secret: str) -> bytes:
    """The key: `whsec_<base64>` secrets are decoded (as Standard Webhooks libraries do)."""
    if secret.startswith("whsec_"):
        return base64.b64decode(secret.removeprefix("whsec_"))
    return secret.encode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value of one request."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance_s: float = TOLERANCE_S,
) -> bool:
    """Whether a received request is signed with `secret` and recent (receivers' helper).

    `headers` must look names up case-insensitively (as HTTP frameworks' headers do) or use
    the lower-case names.
    """
    message_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    if not message_id or not stamp.isdigit():
        return False
    current = time.time() if now is None else now
    if abs(current - int(stamp)) > tolerance_s:
        return False
    expected = sign(secret, message_id, int(stamp), body)
    offered = headers.get("webhook-signature", "").split()
    return any(hmac.compare_digest(expected, candidate) for candidate in offered)


class WebhookNotifier:
    """POSTs a JSON event to any URL, signed so the receiver knows it is from us, and fresh."""

    kind: ClassVar[str] = "webhook"

    def __init__(
        self,
        channel: str,
        url: str,
        secret: str,
        *,
        timeout_s: float = 10,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.channel = channel
        self.url = url
        self._secret = secret  # never logged, never in repr
        self.timeout_s = timeout_s
        # The signature's timestamp is the real time of the attempt, whatever clock the
        # outbox runs on: the receiver checks it against its own wall clock.
        self._wall_clock = wall_clock

    @classmethod
    def from_settings(
        cls, channel: str, settings: WebhookChannel, env: Mapping[str, str]
    ) -> WebhookNotifier:
        secret = secret_from(env, settings.secret_env, channel=channel, what="webhook secret")
        return cls(channel, settings.url, secret, timeout_s=settings.timeout_s)

    @classmethod
    def example(cls, receivers: Receivers) -> WebhookNotifier:
        return cls("webhook-example", f"{receivers.http_url}/hooks/fireline", "example-secret")

    def __repr__(self) -> str:
        return f"WebhookNotifier(channel={self.channel!r}, url={self.url!r})"

    def payload(self, message: Message) -> dict[str, Any]:
        """The body: the event type, the idempotency key, and the message itself."""
        data = message.to_json()
        data.pop("to", None)  # people's addresses are for e-mail, not for third parties
        return {
            "type": message.event.value,
            "id": message.idempotency_key,
            "timestamp": data["created_at"],
            "data": data,
        }

    def signed_headers(self, message_id: str, body: bytes) -> dict[str, str]:
        stamp = int(self._wall_clock())
        return {
            "webhook-id": message_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": sign(self._secret, message_id, stamp, body),
        }

    def send(self, message: Message) -> None:
        payload = self.payload(message)
        body = json.dumps(payload, separators=(",", ":")).encode()
        message_id = message.idempotency_key or "msg_unkeyed"
        post_json(
            self.url,
            payload,
            service="webhook",
            timeout_s=self.timeout_s,
            headers=self.signed_headers(message_id, body),
            content=body,
        )
