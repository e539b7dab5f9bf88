"""Issuing and checking API tokens; the state store keeps only their hashes."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from datetime import datetime

from fireline.domain.access import Role
from fireline.store.state import ApiToken, StateStore

TOKEN_PREFIX = "fl_"  # noqa: S105 - a prefix that marks fireline tokens, not a secret

#: How long a token found active is taken to be active without asking the state store again,
#: where a `TokenCache` is used (the telemetry routes: /v1/calls, /v1/feedback, /v1/changes,
#: /v1/traces): the longest a revoked token keeps working there.
TOKEN_CACHE_SECONDS = 2.0


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


class TokenCache:
    """`authenticate`, remembering each token found active for `seconds` (on `clock`, a
    monotonic one by default), so a revoked token is refused within `seconds` at the latest.

    A busy exporter sends many requests a second with one token, and looking it up in the
    state store cost about a millisecond each. Unknown and revoked tokens are never
    remembered: they are looked up every time, as without the cache.
    """

    #: Most tokens remembered at once; more are forgotten all together.
    MAX_TOKENS = 1024

    def __init__(
        self, seconds: float = TOKEN_CACHE_SECONDS, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._found: dict[str, tuple[ApiToken, float]] = {}  # token hash: (token, valid until)

    def remembered(self, token: str) -> ApiToken | None:
        """The token if it was found active less than `seconds` ago, else None."""
        with self._lock:
            entry = self._found.get(hash_token(token))
        return entry[0] if entry is not None and self._clock() < entry[1] else None

    def authenticate(self, state: StateStore, token: str) -> ApiToken | None:
        """The active token matching `token`, or None: remembered, or from `state`."""
        found = self.remembered(token)
        if found is not None:
            return found
        until = self._clock() + self.seconds  # from before the lookup: never longer
        found = authenticate(state, token)
        if found is not None:
            with self._lock:
                if len(self._found) >= self.MAX_TOKENS:
                    self._found.clear()
                self._found[hash_token(token)] = (found, until)
        return found
