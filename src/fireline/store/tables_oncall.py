"""On-call tables of the state store (SQLAlchemy Core), on the shared `metadata`."""

from __future__ import annotations

import sqlalchemy as sa

from fireline.store.tables import UTCDateTime, metadata

# Overrides added through the API or CLI (those in fireline.yaml are read from the file).
# Removing one stamps it rather than deleting it, so who covered whom stays on record.
oncall_overrides = sa.Table(
    "oncall_overrides",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("schedule", sa.String(128), nullable=False, index=True),
    sa.Column("person", sa.String(200), nullable=False),
    sa.Column("starts_at", UTCDateTime(), nullable=False),
    sa.Column("ends_at", UTCDateTime(), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("removed_by", sa.String(200)),
    sa.Column("removed_at", UTCDateTime()),
)

# One escalation per paged incident: when paging began (tiers are timed from it), the policy
# and highest tier reached, and the acknowledgement that stops it.
oncall_escalations = sa.Table(
    "oncall_escalations",
    metadata,
    sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id"), primary_key=True),
    sa.Column("policy", sa.String(128), nullable=False),
    sa.Column("started_at", UTCDateTime(), nullable=False),
    sa.Column("tier", sa.Integer, nullable=False),
    sa.Column("acknowledged_at", UTCDateTime()),
    sa.Column("acknowledged_by", sa.String(200)),
    sa.Column("acknowledged_via", sa.String(32)),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

# One row per incident, tier and person paged; repeats count up `attempts`. A tier whose
# target resolved to nobody has a row with no person, so the gap is visible.
oncall_pages = sa.Table(
    "oncall_pages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id"), nullable=False, index=True),
    sa.Column("tier", sa.Integer, nullable=False),
    sa.Column("person", sa.String(200)),
    sa.Column("target", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("last_sent_at", UTCDateTime()),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("acknowledged_at", UTCDateTime()),
    sa.Column("acknowledged_by", sa.String(200)),
)

__all__ = ["metadata", "oncall_escalations", "oncall_overrides", "oncall_pages"]
