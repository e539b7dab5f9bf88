"""What happens to every call before it is stored: cost from the price table, redaction."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from collections.abc import MutableMapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fireline.config import Ingest, Price
from fireline.detect import pii
from fireline.detect.pii import find_pii, mask_pii
from fireline.domain.telemetry import Call

if TYPE_CHECKING:
    from _hashlib import HASH

REDACTION_KEY_ENV = "FIRELINE_REDACTION_KEY"
REDACTION_KEY_FILE = "redaction.key"

# Each kind of personal data `fireline.detect.pii` finds needs an "@" (e-mail addresses) or a
# digit (all the others) to match, so text with neither is left as it is without running
# its patterns: most prompts and answers. A kind added there turns this shortcut off.
_NEEDS_AT_OR_DIGIT = {"email", "iban", "payment_card", "us_ssn", "phone", "ip_address"}
_SHORTCUT = {kind for kind, _, _ in pii._PATTERNS} <= _NEEDS_AT_OR_DIGIT
_AT_OR_DIGIT = re.compile(r"[@\d]")
# In ASCII text the only digits are these: looking for each in turn (a memchr) is ten times
# quicker than the regular expression, which must ask of every character if it is a digit.
_ASCII_AT_OR_DIGITS = tuple("@0123456789")


def _may_hold_pii(text: str) -> bool:
    if not _SHORTCUT:
        return True
    if text.isascii():
        return any(mark in text for mark in _ASCII_AT_OR_DIGITS)
    return _AT_OR_DIGIT.search(text) is not None


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
        self._inner, self._outer = _hmac_states(redaction_key)

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

    def prepare_columns(self, columns: MutableMapping[str, list[Any]]) -> None:
        """What `__call__` does to each call, done to a batch given column by column
        (`fireline.store.telemetry.call_columns`), in place."""
        if self._prices:
            columns["cost_usd"] = [
                cost if cost is not None else self._cost(model, asked, tokens_in, tokens_out)
                for cost, model, asked, tokens_in, tokens_out in zip(
                    columns["cost_usd"],
                    columns["model"],
                    columns["request_model"],
                    columns["input_tokens"],
                    columns["output_tokens"],
                    strict=True,
                )
            ]
        if self._redaction.hash_user_ids:
            users = columns["user"]
            hashed = {user: self.hash_user(user) for user in set(users) if user is not None}
            columns["user"] = [None if user is None else hashed[user] for user in users]
        if self._redaction.pii != "keep":
            redact = self._redact
            for field in ("input_text", "output_text"):
                columns[field] = [redact(text) if text else text for text in columns[field]]

    def cost(self, call: Call) -> float | None:
        """The call's cost from the price table, or None without tokens or a known model."""
        return self._cost(call.model, call.request_model, call.input_tokens, call.output_tokens)

    def _cost(
        self,
        model: str | None,
        request_model: str | None,
        input_tokens: int | None,
        output_tokens: int | None,
    ) -> float | None:
        if not self._prices:
            return None
        price = self.price_of(model) or self.price_of(request_model)
        if price is None or (input_tokens is None and output_tokens is None):
            return None
        tokens_in, tokens_out = input_tokens or 0, output_tokens or 0
        return (tokens_in * price.input + tokens_out * price.output) / 1_000_000

    def price_of(self, model: str | None) -> Price | None:
        if model is None:
            return None
        return next((p for name, p in self._prices.items() if model.startswith(name)), None)

    def hash_user(self, user: str) -> str:
        """A keyed hash of a user id: stable within a deployment, useless without its key."""
        if user.startswith("u_") and len(user) == 34:
            return user  # already hashed (a resent call)
        inner = self._inner.copy()
        inner.update(user.encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return "u_" + outer.hexdigest()[:32]

    def redact_text(self, text: str) -> str | None:
        """Free text (a feedback comment) redacted as configured."""
        return text if self._redaction.pii == "keep" else self._redact(text)

    def _redact(self, text: str) -> str | None:
        if not _may_hold_pii(text):
            return text
        if self._redaction.pii == "drop":
            return None if find_pii(text) else text
        return mask_pii(text)[0]


def _hmac_states(key: bytes) -> tuple[HASH, HASH]:
    """HMAC-SHA256 (RFC 2104) of `key` as its inner and outer hash states, each computed
    once: copying two states is twice as quick as copying an `hmac.HMAC`, same digests."""
    block = hashlib.sha256().block_size
    padded = (hashlib.sha256(key).digest() if len(key) > block else key).ljust(block, b"\0")
    inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in padded))
    outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in padded))
    return inner, outer


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
