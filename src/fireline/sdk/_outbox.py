"""The bounded queue of calls waiting to be sent, and the counters behind `stats()`."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any


@dataclass(frozen=True, slots=True)
class Stats:
    """What a client did with the calls it was given, counted since it was created.

    Every recorded call ends up in exactly one of `sent`, `dropped`, `rejected` and
    `invalid`, or is still `queued`.
    """

    #: Calls handed to the client (decorator, context manager or `record`).
    recorded: int = 0
    #: Calls fireline has stored (including `duplicates`).
    sent: int = 0
    #: Of `sent`, calls fireline already had: a resend after an answer was lost.
    duplicates: int = 0
    #: Of `sent`, calls older than what detection had already evaluated.
    late: int = 0
    #: Calls waiting to be sent, including a batch in flight.
    queued: int = 0
    #: Calls discarded unsent: the oldest when the queue was full, or left when it closed.
    dropped: int = 0
    #: Calls fireline refused (HTTP 4xx): a bad token, an invalid row, a body too large.
    rejected: int = 0
    #: Calls the SDK refused before sending, e.g. for a malformed feature name.
    invalid: int = 0
    #: Requests sent again after a network error, HTTP 5xx, 408 or 429.
    retries: int = 0
    #: Guard reads that failed, so that a last known or default guard was used.
    guard_failures: int = 0
    #: The latest delivery or guard problem, for health checks (never contains the token).
    last_error: str | None = None


class Outcome(Enum):
    """What became of one call in a request."""

    SENT = "sent"
    REJECTED = "rejected"
    INVALID = "invalid"
    RETRY = "retry"


class Entry:
    """One queued call; its JSON is computed once, by the sender, and kept for resends."""

    __slots__ = ("done", "evicted", "fields", "in_flight", "payload", "seq")

    def __init__(self, seq: int, fields: dict[str, Any]) -> None:
        self.seq = seq
        self.fields = fields
        self.payload: bytes | None = None
        self.in_flight = False
        self.evicted = False
        self.done = False


class Outbox:
    """A queue of at most `capacity` calls that drops the oldest when full.

    A call leaves the queue only once its fate is known (stored, refused, or evicted), so
    that a failing request is retried with the same calls and the same call ids. A call
    evicted while its request is in flight counts as dropped only if that request fails.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._entries: deque[Entry] = deque()
        self._next_seq = 0
        self._pending = 0
        self._closed = False
        self._counts: dict[str, int] = dict.fromkeys(
            ("recorded", "sent", "duplicates", "late", "dropped", "rejected", "invalid"), 0
        )
        self._counts.update(retries=0, guard_failures=0)
        self._last_error: str | None = None
        self._init_lock()

    def _init_lock(self) -> None:
        self._lock = threading.Lock()
        self._settled = threading.Condition(self._lock)

    def after_fork(self) -> None:
        """In a forked child: fresh locks, and no request of the parent counts as in flight."""
        self._init_lock()
        for entry in self._entries:
            entry.in_flight = False

    # ------------------------------------------------------------ producers (app threads)

    def put(self, fields: dict[str, Any]) -> int:
        """Queue one call in O(1), evicting the oldest if full; the number now pending."""
        with self._lock:
            self._counts["recorded"] += 1
            if self._closed:
                self._counts["dropped"] += 1
                return self._pending
            if len(self._entries) >= self._capacity:
                self._evict_oldest()
            self._entries.append(Entry(self._next_seq, fields))
            self._next_seq += 1
            self._pending += 1
            return self._pending

    def _evict_oldest(self) -> None:
        old = self._entries.popleft()
        if old.done:
            return
        self._pending -= 1
        if old.in_flight:
            old.evicted = True  # counted when its request's fate is known
        else:
            self._counts["dropped"] += 1
        self._settled.notify_all()

    # ------------------------------------------------------------ the sender

    def take(self, limit: int) -> list[Entry]:
        """The oldest `limit` unsettled calls, marked in flight (they stay queued)."""
        with self._lock:
            self._trim()
            batch: list[Entry] = []
            for entry in self._entries:
                if len(batch) >= limit:
                    break
                if not entry.done and not entry.in_flight:
                    entry.in_flight = True
                    batch.append(entry)
            return batch

    def settle(self, results: Iterable[tuple[Entry, Outcome]]) -> None:
        """Record what became of calls taken by `take`; settled calls leave the queue."""
        with self._lock:
            for entry, outcome in results:
                entry.in_flight = False
                if entry.done:
                    continue
                if outcome is Outcome.RETRY:
                    if entry.evicted:
                        entry.done = True
                        self._counts["dropped"] += 1
                    continue
                entry.done = True
                if not entry.evicted:
                    self._pending -= 1
                self._counts[outcome.value] += 1
            self._trim()
            self._settled.notify_all()

    def count(self, name: str, n: int = 1, error: str | None = None) -> None:
        """Add `n` to a counter (`duplicates`, `late`, `retries`, `guard_failures`)."""
        with self._lock:
            self._counts[name] += n
            if error is not None:
                self._last_error = error

    def note_error(self, error: str) -> None:
        """Remember the latest problem for `Stats.last_error`."""
        with self._lock:
            self._last_error = error

    def _trim(self) -> None:
        while self._entries and self._entries[0].done:
            self._entries.popleft()

    # ------------------------------------------------------------ flush, close, stats

    @property
    def pending(self) -> int:
        """Calls queued and not yet settled."""
        return self._pending

    @property
    def last_seq(self) -> int:
        """The sequence number of the latest queued call (-1 before any)."""
        return self._next_seq - 1

    def wait_settled(self, seq: int, deadline: float) -> bool:
        """Wait until every call up to `seq` is settled, or `deadline` (monotonic) passes."""
        with self._settled:
            while True:
                self._trim()
                if not self._entries or self._entries[0].seq > seq:
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._settled.wait(remaining)

    def close(self) -> None:
        """Refuse (and count as dropped) calls queued from now on."""
        with self._lock:
            self._closed = True
            self._settled.notify_all()

    def abandon(self) -> int:
        """Count every call not in flight as dropped (the client closed); how many were."""
        with self._lock:
            abandoned = 0
            for entry in self._entries:
                if not entry.done and not entry.in_flight:
                    entry.done = True
                    abandoned += 1
            self._pending -= abandoned
            self._counts["dropped"] += abandoned
            self._trim()
            self._settled.notify_all()
            return abandoned

    def stats(self) -> Stats:
        """A consistent snapshot of the counters."""
        with self._lock:
            return Stats(**self._counts, queued=self._pending, last_error=self._last_error)
