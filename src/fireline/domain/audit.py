"""The tamper-evident audit log: every timeline entry is chained to the one before by SHA-256.

An entry's hash covers the previous entry's hash and the entry's own content (incident, time,
actor, kind, message, data), so editing an entry changes its hash, removing one breaks the
link of the next, and cutting the tail leaves the chain short of the head the store keeps.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

#: The hash before the first entry.
GENESIS = "0" * 64


def entry_hash(
    previous: str,
    *,
    incident_id: int,
    at: datetime,
    actor: str,
    kind: str,
    message: str,
    data: Mapping[str, Any],
) -> str:
    """The chained hash of one entry.

    >>> entry = dict(incident_id=1, at=datetime(2026, 1, 1, tzinfo=UTC), actor="x", data={})
    >>> a = entry_hash(GENESIS, kind="note", message="m", **entry)
    >>> a == entry_hash(GENESIS, kind="note", message="M", **entry)
    False
    """
    content = json.dumps(
        [previous, incident_id, at.astimezone(UTC).isoformat(), actor, kind, message, data],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(content.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainedEntry:
    """A stored timeline entry with the hashes it was stored with."""

    entry_id: int
    incident_id: int
    at: datetime
    actor: str
    kind: str
    message: str
    data: Mapping[str, Any]
    previous_hash: str | None
    hash: str | None


@dataclass(frozen=True, slots=True)
class Verification:
    """What `verify` found: entries checked, and each problem with the entry it is at."""

    checked: int
    unchained: int  # entries written before the chain began (no hash to check)
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(entries: Iterable[ChainedEntry], head: str | None) -> Verification:
    """Walk the chain in storage order; report edited, removed and missing entries."""
    expected = GENESIS
    checked = unchained = 0
    problems: list[str] = []
    for entry in entries:
        if entry.hash is None:
            unchained += 1
            continue
        checked += 1
        if entry.previous_hash != expected:
            problems.append(
                f"entry {entry.entry_id}: does not follow the entry before it "
                "(an entry was removed or reordered)"
            )
        actual = entry_hash(
            entry.previous_hash or GENESIS,
            incident_id=entry.incident_id,
            at=entry.at,
            actor=entry.actor,
            kind=entry.kind,
            message=entry.message,
            data=entry.data,
        )
        if actual != entry.hash:
            problems.append(f"entry {entry.entry_id}: content does not match its hash (edited)")
        expected = entry.hash
    if (head or GENESIS) != expected:
        problems.append("the chain ends before its recorded head (entries removed at the end)")
    return Verification(checked, unchained, tuple(problems))
