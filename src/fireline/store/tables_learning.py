"""Post-incident learning tables of the state store (SQLAlchemy Core), on the shared `metadata`."""

from __future__ import annotations

import sqlalchemy as sa

from fireline.store.tables import UTCDateTime, metadata

# What people commit to after an incident (fireline.learn.actions); every change is also on
# the incident's timeline.
action_items = sa.Table(
    "action_items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id"), nullable=False, index=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("owner", sa.String(200)),
    sa.Column("due", UTCDateTime(), index=True),
    sa.Column("category", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("note", sa.Text),
)

__all__ = ["action_items", "metadata"]
