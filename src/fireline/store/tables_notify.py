"""Notifications tables of the state store (SQLAlchemy Core), on the shared `metadata`."""

from __future__ import annotations

import sqlalchemy as sa

from fireline.store.tables import UTCDateTime, metadata

# The persistent outbox: a message is written in the same transaction as the incident change
# it tells of, and a worker delivers it later, retrying until a receiver takes it. A row is
# never deleted by delivery, so the table is also the record of what was sent.
notification_outbox = sa.Table(
    "notification_outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("channel", sa.String(128), nullable=False),
    sa.Column("dedup_key", sa.String(300), nullable=False),
    # Derived from channel and dedup_key: enqueueing the same message twice is a no-op, and
    # receivers get the same key on every retry.
    sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
    sa.Column("event", sa.String(64), nullable=False),
    sa.Column("incident_id", sa.Integer, index=True),
    sa.Column("message", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("delivered_at", UTCDateTime()),
    sa.Index("ix_notification_outbox_due", "status", "next_attempt_at"),
)

__all__ = ["metadata", "notification_outbox"]
