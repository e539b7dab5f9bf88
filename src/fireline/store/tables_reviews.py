"""Human review queue tables of the state store (SQLAlchemy Core), on the shared `metadata`."""

from __future__ import annotations

import sqlalchemy as sa

from fireline.store.tables import UTCDateTime, metadata

# Model outputs held for a person (containment level 2), and what the person decided.
reviews = sa.Table(
    "reviews",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # The app's idempotency key: a retried submission finds its review instead of adding one.
    sa.Column("client_id", sa.String(128), nullable=False, unique=True),
    sa.Column("feature", sa.String(128), nullable=False, index=True),
    sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id"), index=True),
    sa.Column("call_id", sa.String(128)),
    sa.Column("input_text", sa.Text, nullable=False),
    sa.Column("output_text", sa.Text, nullable=False),
    sa.Column("context", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("final_output", sa.Text),
    sa.Column("decided_by", sa.String(200)),
    sa.Column("decided_at", UTCDateTime()),
    sa.Column("note", sa.Text),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
)

__all__ = ["metadata", "reviews"]
