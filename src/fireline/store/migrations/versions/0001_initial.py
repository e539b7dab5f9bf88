"""Initial state schema: incidents, alerts, timeline, guards, engine state.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fireline.store.tables import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

LIFECYCLE = (
    "detected_at",
    "triaged_at",
    "contained_at",
    "investigating_at",
    "remediating_at",
    "restoring_at",
    "resolved_at",
    "reviewed_at",
)


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("feature", sa.String(128), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(2), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        *(sa.Column(name, UTCDateTime(), nullable=name != "detected_at") for name in LIFECYCLE),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
    )
    op.create_index("ix_incidents_feature", "incidents", ["feature"])
    op.create_index("ix_incidents_state", "incidents", ["state"])
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.Integer),
        sa.Column("detector", sa.String(128), nullable=False),
        sa.Column("feature", sa.String(128), nullable=False),
        sa.Column("signal", sa.String(128), nullable=False),
        sa.Column("incident_type", sa.String(32), nullable=False),
        sa.Column("segment", sa.JSON, nullable=False),
        sa.Column("fired_at", UTCDateTime(), nullable=False),
        sa.Column("window_start", UTCDateTime(), nullable=False),
        sa.Column("window_end", UTCDateTime(), nullable=False),
        sa.Column("baseline_value", sa.Float, nullable=False),
        sa.Column("current_value", sa.Float, nullable=False),
        sa.Column("p_value", sa.Float, nullable=False),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("resolved_at", UTCDateTime()),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_alerts_incident_id_incidents"
        ),
    )
    op.create_index("ix_alerts_incident_id", "alerts", ["incident_id"])
    op.create_index("ix_alerts_feature", "alerts", ["feature"])
    op.create_table(
        "timeline",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.Integer, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_timeline"),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_timeline_incident_id_incidents"
        ),
    )
    op.create_index("ix_timeline_incident_id", "timeline", ["incident_id"])
    op.create_table(
        "guards",
        sa.Column("feature", sa.String(128), nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("incident_id", sa.Integer),
        sa.Column("probe_share", sa.Float, nullable=False),
        sa.Column("set_by", sa.String(200)),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("feature", name="pk_guards"),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_guards_incident_id_incidents"
        ),
    )
    op.create_table(
        "engine_state",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("value", sa.JSON, nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_engine_state"),
    )


def downgrade() -> None:
    for table in ("engine_state", "guards", "timeline", "alerts", "incidents"):
        op.drop_table(table)
