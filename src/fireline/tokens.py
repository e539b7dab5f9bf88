"""Issuing and checking API tokens; the state store keeps only their hashes."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from fireline.domain.access import Role
from fireline.store.state import ApiToken, StateStore

TOKEN_PREFIX = "fl_"  # noqa: S105 - a prefix that marks fireline tokens, not a secret


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(state: StateStore, name: str, role: Role, *, now: datetime) -> str:
    """Create a token, store its hash, and return the token: it is shown this once only."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with state.unit_of_work() as tx:
        tx.add_token(name, role, hash_token(token), now=now)
    return token


def authenticate(state: StateStore, token: str) -> ApiToken | None:
    """The active token matching `token`, or None."""
    with state.unit_of_work() as tx:
        found = tx.token_by_hash(hash_token(token))
    return found if found is not None and found.active else None
