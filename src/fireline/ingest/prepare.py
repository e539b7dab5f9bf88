"""What happens to every call before it is stored: cost from the price table, redaction."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import replace
from pathlib import Path

from fireline.config import Ingest, Price
from fireline.detect.pii import find_pii, mask_pii
from fireline.domain.telemetry import Call

REDACTION_KEY_ENV = "FIRELINE_REDACTION_KEY"
REDACTION_KEY_FILE = "redaction.key"


class CallPreparer:
    """Prices calls that arrive without a cost and hides what must not be stored.

    >>> from fireline.config import Ingest, Price
    >>> from datetime import datetime, UTC
    >>> prepare = CallPreparer(Ingest(prices={"gpt-4o": Price(input=2.5, output=10)}), b"k")
    >>> call = Call("c1", datetime(2026, 1, 1, tzinfo=UTC), "bot", model="gpt-4o-2024-08-06",
    ...             input_tokens=1000, output_tokens=100, user="jane")
    >>> ready = prepare(call)
    >>> round(ready.cost_usd, 6), ready.user.startswith("u_")
    (0.0035, True)
    """

    def __init__(self, config: Ingest, redaction_key: bytes) -> None:
        self._prices = dict(sorted(config.prices.items(), key=lambda item: -len(item[0])))
        self._redaction = config.redaction
        self._key = redaction_key

    def __call__(self, call: Call) -> Call:
        changes: dict[str, object] = {}
        if call.cost_usd is None:
            cost = self.cost(call)
            if cost is not None:
                changes["cost_usd"] = cost
        if call.user is not None and self._redaction.hash_user_ids:
            changes["user"] = self.hash_user(call.user)
        if self._redaction.pii != "keep":
            for field in ("input_text", "output_text"):
                text = getattr(call, field)
                if text:
                    changes[field] = self._redact(text)
        return replace(call, **changes) if changes else call  # type: ignore[arg-type]

    def cost(self, call: Call) -> float | None:
        """The call's cost from the price table, or None without tokens or a known model."""
        price = self.price_of(call.model) or self.price_of(call.request_model)
        if price is None or (call.input_tokens is None and call.output_tokens is None):
            return None
        tokens_in, tokens_out = call.input_tokens or 0, call.output_tokens or 0
        return (tokens_in * price.input + tokens_out * price.output) / 1_000_000

    def price_of(self, model: str | None) -> Price | None:
        if model is None:
            return None
        return next((p for name, p in self._prices.items() if model.startswith(name)), None)

    def hash_user(self, user: str) -> str:
        """A keyed hash of a user id: stable within a deployment, useless without its key."""
        if user.startswith("u_") and len(user) == 34:
            return user  # already hashed (a resent call)
        digest = hmac.new(self._key, user.encode(), hashlib.sha256).hexdigest()
        return "u_" + digest[:32]

    def redact_text(self, text: str) -> str | None:
        """Free text (a feedback comment) redacted as configured."""
        return text if self._redaction.pii == "keep" else self._redact(text)

    def _redact(self, text: str) -> str | None:
        if self._redaction.pii == "drop":
            return None if find_pii(text) else text
        return mask_pii(text)[0]


def redaction_key(data_dir: Path | None) -> bytes:
    """The deployment's key for hashing user ids: from the environment, else a file in the
    data directory created on first use (readable by its owner only), else a random one."""
    from_env = os.environ.get(REDACTION_KEY_ENV)
    if from_env:
        return from_env.encode()
    if data_dir is None:
        return secrets.token_bytes(32)
    path = data_dir / REDACTION_KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip().encode()
