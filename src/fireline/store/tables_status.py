"""Status page and regulatory clock tables of the state store (SQLAlchemy Core), on the
shared `metadata`."""

from __future__ import annotations

import sqlalchemy as sa

from fireline.store.tables import UTCDateTime, metadata

# What people published about an incident for the public page; nothing else reaches it.
status_updates = sa.Table(
    "status_updates",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id"), nullable=False, index=True),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("title", sa.String(200)),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

# One reporting deadline per incident and regime; open while `reported_at` is null.
regulatory_clocks = sa.Table(
    "regulatory_clocks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id"), nullable=False, index=True),
    sa.Column("regime", sa.String(64), nullable=False),
    sa.Column("variant", sa.String(64)),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("started_by", sa.String(200), nullable=False),
    sa.Column("started_at", UTCDateTime(), nullable=False),
    sa.Column("due_at", UTCDateTime(), nullable=False, index=True),
    sa.Column("reported_at", UTCDateTime()),
    sa.Column("reported_by", sa.String(200)),
    # The reminder points already sent, so a restart never sends one twice.
    sa.Column("reminders_sent", sa.JSON, nullable=False),
)

__all__ = ["metadata", "regulatory_clocks", "status_updates"]
