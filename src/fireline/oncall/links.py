"""Signed acknowledgement links: HMAC-SHA256 over a page id and an expiry, and their key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path

from fireline.errors import FirelineError

ACK_KEY_ENV = "FIRELINE_ACK_KEY"
ACK_KEY_FILE = "ack.key"

#: `<page id>.<expiry, unix seconds>.<signature>`, the signature base64url without padding.
_TOKEN = re.compile(r"^([1-9][0-9]{0,9})\.([1-9][0-9]{0,11})\.([A-Za-z0-9_-]{43})$")
# Separates the signatures of links from any other use of the same key.
_CONTEXT = b"fireline-ack-v1:"


class LinkRefused(FirelineError):
    """An acknowledgement link that is malformed, forged or expired."""


def ack_key(data_dir: Path | None) -> bytes:
    """The deployment's key for signing links: from the environment, else a file in the
    data directory created on first use (readable by its owner only), else a random one."""
    from_env = os.environ.get(ACK_KEY_ENV)
    if from_env:
        return from_env.encode()
    if data_dir is None:
        return secrets.token_bytes(32)
    path = data_dir / ACK_KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first: use theirs
            return path.read_text().strip().encode()
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def sign(page_id: int, expires_at: datetime, key: bytes) -> str:
    """A token acknowledging page `page_id` until `expires_at`."""
    expiry = int(expires_at.timestamp())
    return f"{page_id}.{expiry}.{_signature(page_id, expiry, key)}"


def verify(token: str, key: bytes, now: datetime) -> int:
    """The page id a token acknowledges; raise LinkRefused if it is not genuine or expired."""
    match = _TOKEN.match(token)
    if match is None:
        raise LinkRefused("this acknowledgement link is not valid")
    page_id, expiry = int(match[1]), int(match[2])
    # Constant time, so the signature cannot be guessed byte by byte from response times.
    if not hmac.compare_digest(match[3], _signature(page_id, expiry, key)):
        raise LinkRefused("this acknowledgement link is not valid")
    if now >= datetime.fromtimestamp(expiry, UTC):
        raise LinkRefused("this acknowledgement link has expired; acknowledge in the API or CLI")
    return page_id


def _signature(page_id: int, expiry: int, key: bytes) -> str:
    digest = hmac.new(key, _CONTEXT + f"{page_id}.{expiry}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
