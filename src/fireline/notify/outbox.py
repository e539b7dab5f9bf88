"""The persistent outbox: enqueue in the incident's transaction, deliver later, at least once.

`enqueue` writes a message in the caller's state transaction, so a page exists exactly when
the incident change it tells of was committed. `Outbox.deliver_due` then takes due messages
in a short transaction (leasing them, so two workers do not send the same one), sends them
with no transaction open (a slow receiver must not hold the state store's write lock), and
records each outcome: delivered, retried later with exponential backoff and jitter, or dead.
A crash between taking and recording leaves the message pending: it is sent again when its
lease ends, with the same idempotency key, so receivers can drop the duplicate.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from fireline.errors import ConfigError, NotFound
from fireline.notify.base import DeliveryError, Notifier
from fireline.notify.config import Retry
from fireline.notify.message import Message, idempotency_key
from fireline.store.state import StateStore, StateTx
from fireline.store.tables_notify import notification_outbox as outbox_table

log = logging.getLogger("fireline.notify")


class Status(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One row of the outbox, as listed by the API and the CLI."""

    entry_id: int
    channel: str
    dedup_key: str
    idempotency_key: str
    event: str
    incident_id: int | None
    message: Message
    status: Status
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(slots=True)
class DeliveryReport:
    """What one round of `deliver_due` did, by outbox id."""

    delivered: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    dead: list[int] = field(default_factory=list)


def enqueue(tx: StateTx, channel: str, message: Message, dedup_key: str, *, now: datetime) -> bool:
    """Add `message` for `channel` in `tx`; False if (channel, dedup_key) is already there."""
    key = idempotency_key(channel, dedup_key)
    keyed = replace(message, created_at=message.created_at or now, idempotency_key=key)
    values: dict[str, Any] = {
        "channel": channel,
        "dedup_key": dedup_key,
        "idempotency_key": key,
        "event": message.event.value,
        "incident_id": message.incident_id,
        "message": keyed.to_json(),
        "status": Status.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
    db = tx.connection
    insert = (postgresql if db.dialect.name == "postgresql" else sqlite).insert(outbox_table)
    # RETURNING, not rowcount: with implicit RETURNING, PostgreSQL drivers report no count.
    statement = insert.values(**values).on_conflict_do_nothing(index_elements=["idempotency_key"])
    return db.execute(statement.returning(outbox_table.c.id)).first() is not None


def retry_delay(attempt: int, policy: Retry, rng: random.Random) -> float:
    """Seconds before try `attempt + 1`: doubling from the base up to the cap, with jitter.

    Half the delay is fixed and half random ("equal jitter"): never sooner than half, and
    the messages that failed together while a receiver was down do not return together.
    """
    ceiling = min(policy.max_delay_s, policy.base_delay_s * 2.0 ** min(attempt - 1, 60))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


class Outbox:
    """Delivers what is due through the configured notifiers, and lists what is stored."""

    def __init__(
        self,
        state: StateStore | Callable[[], StateStore],
        notifiers: Mapping[str, Notifier] | Callable[[str], Notifier],
        policy: Retry | None = None,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self._state = state
        self._notifiers = notifiers
        self.policy = policy or Retry()
        self._rng = rng or random.Random()  # jitter, not a secret

    @property
    def state(self) -> StateStore:
        return self._state if isinstance(self._state, StateStore) else self._state()

    def notifier(self, channel: str) -> Notifier:
        """The channel's notifier; a channel gone from the file is final, a missing secret not."""
        try:
            if isinstance(self._notifiers, Mapping):
                return self._notifiers[channel]
            return self._notifiers(channel)
        except (KeyError, NotFound):
            raise DeliveryError(
                f"no channel named {channel!r} is configured", retryable=False
            ) from None
        except ConfigError as error:  # set the secret and the message goes out
            raise DeliveryError(str(error), retryable=True) from None

    def deliver_due(self, now: datetime, *, limit: int = 100) -> DeliveryReport:
        """Send every message due at `now` (up to `limit`) and record what became of each."""
        report = DeliveryReport()
        taken = self.take_due(now, limit=limit)
        if not taken:
            return report
        for entry in taken:
            try:
                self.notifier(entry.channel).send(entry.message)
            except DeliveryError as error:
                self._failed(entry, error, now, report)
            except Exception as error:  # a bug in one notifier must not stop the others
                log.exception(
                    "notifier %s failed on outbox message %s", entry.channel, entry.entry_id
                )
                self._failed(entry, DeliveryError(repr(error), retryable=True), now, report)
            else:
                self._record(entry, now, status=Status.DELIVERED, delivered_at=now)
                report.delivered.append(entry.entry_id)
        return report

    def take_due(self, now: datetime, *, limit: int = 100) -> list[OutboxEntry]:
        """Lease the due messages: count the attempt, and hide them from others for a while."""
        lease_until = now + timedelta(seconds=self.policy.lease_s)
        query = (
            sa.select(outbox_table)
            .where(outbox_table.c.status == Status.PENDING.value)
            .where(outbox_table.c.next_attempt_at <= now)
            .order_by(outbox_table.c.next_attempt_at, outbox_table.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with self.state.unit_of_work() as tx:
            rows = list(tx.connection.execute(query).mappings())
            for row in rows:
                tx.connection.execute(
                    outbox_table.update()
                    .where(outbox_table.c.id == row["id"])
                    .values(attempts=row["attempts"] + 1, next_attempt_at=lease_until)
                )
        return [
            _entry_from({**row, "attempts": row["attempts"] + 1, "next_attempt_at": lease_until})
            for row in rows
        ]

    def _failed(
        self, entry: OutboxEntry, error: DeliveryError, now: datetime, report: DeliveryReport
    ) -> None:
        if error.retryable and entry.attempts < self.policy.max_attempts:
            delay = retry_delay(entry.attempts, self.policy, self._rng)
            if error.retry_after_s is not None:
                delay = max(delay, min(error.retry_after_s, self.policy.max_delay_s))
            at = now + timedelta(seconds=delay)
            self._record(entry, now, status=Status.PENDING, next_attempt_at=at, error=str(error))
            report.retrying.append(entry.entry_id)
            log.warning(
                "outbox message %s to %s failed (attempt %s), retrying at %s: %s",
                entry.entry_id, entry.channel, entry.attempts, at.isoformat(), error,
            )  # fmt: skip
        else:
            self._record(entry, now, status=Status.DEAD, error=str(error))
            report.dead.append(entry.entry_id)
            log.error(
                "outbox message %s to %s is dead after %s attempt(s): %s",
                entry.entry_id, entry.channel, entry.attempts, error,
            )  # fmt: skip

    def _record(
        self,
        entry: OutboxEntry,
        now: datetime,
        *,
        status: Status,
        next_attempt_at: datetime | None = None,
        delivered_at: datetime | None = None,
        error: str | None = None,
    ) -> None:
        values: dict[str, Any] = {"status": status.value, "last_error": error}
        if next_attempt_at is not None:
            values["next_attempt_at"] = next_attempt_at
        if delivered_at is not None:
            values["delivered_at"] = delivered_at
        with self.state.unit_of_work() as tx:
            # Only if no one took it since (our lease ran out): theirs is the newer attempt.
            tx.connection.execute(
                outbox_table.update()
                .where(outbox_table.c.id == entry.entry_id)
                .where(outbox_table.c.attempts == entry.attempts)
                .values(**values)
            )

    def list(
        self,
        *,
        status: Status | None = None,
        channel: str | None = None,
        incident_id: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[OutboxEntry]:
        """Outbox rows, newest first."""
        query = sa.select(outbox_table).order_by(outbox_table.c.id.desc())
        if status is not None:
            query = query.where(outbox_table.c.status == status.value)
        if channel is not None:
            query = query.where(outbox_table.c.channel == channel)
        if incident_id is not None:
            query = query.where(outbox_table.c.incident_id == incident_id)
        with self.state.unit_of_work(read_only=True) as tx:
            rows = tx.connection.execute(query.limit(limit).offset(offset)).mappings()
            return [_entry_from(row) for row in rows]

    def requeue(self, entry_id: int, now: datetime) -> bool:
        """Make a dead message pending again, with a fresh count of attempts."""
        with self.state.unit_of_work() as tx:
            result = tx.connection.execute(
                outbox_table.update()
                .where(outbox_table.c.id == entry_id)
                .where(outbox_table.c.status == Status.DEAD.value)
                .values(status=Status.PENDING.value, attempts=0, next_attempt_at=now)
            )
        return bool(result.rowcount)


def last_sent_at(tx: StateTx, incident_id: int, events: tuple[str, ...]) -> datetime | None:
    """When the newest message of one of `events` about the incident was enqueued."""
    query = sa.select(sa.func.max(outbox_table.c.created_at)).where(
        outbox_table.c.incident_id == incident_id, outbox_table.c.event.in_(events)
    )
    value = tx.connection.execute(query).scalar()
    return value if isinstance(value, datetime) else None


def _entry_from(row: Mapping[str, Any] | sa.RowMapping) -> OutboxEntry:
    return OutboxEntry(
        entry_id=row["id"],
        channel=row["channel"],
        dedup_key=row["dedup_key"],
        idempotency_key=row["idempotency_key"],
        event=row["event"],
        incident_id=row["incident_id"],
        message=Message.from_json(row["message"]),
        status=Status(row["status"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        delivered_at=row["delivered_at"],
    )
