"""On-call: schedules' overrides, escalation state and pages.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fireline.store.tables import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oncall_overrides",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("schedule", sa.String(128), nullable=False),
        sa.Column("person", sa.String(200), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("removed_by", sa.String(200)),
        sa.Column("removed_at", UTCDateTime()),
        sa.PrimaryKeyConstraint("id", name="pk_oncall_overrides"),
    )
    op.create_index("ix_oncall_overrides_schedule", "oncall_overrides", ["schedule"])
    op.create_table(
        "oncall_escalations",
        sa.Column("incident_id", sa.Integer, nullable=False),
        sa.Column("policy", sa.String(128), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("tier", sa.Integer, nullable=False),
        sa.Column("acknowledged_at", UTCDateTime()),
        sa.Column("acknowledged_by", sa.String(200)),
        sa.Column("acknowledged_via", sa.String(32)),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("incident_id", name="pk_oncall_escalations"),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name="fk_oncall_escalations_incident_id_incidents",
        ),
    )
    op.create_table(
        "oncall_pages",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer, nullable=False),
        sa.Column("tier", sa.Integer, nullable=False),
        sa.Column("person", sa.String(200)),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_sent_at", UTCDateTime()),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("acknowledged_at", UTCDateTime()),
        sa.Column("acknowledged_by", sa.String(200)),
        sa.PrimaryKeyConstraint("id", name="pk_oncall_pages"),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_oncall_pages_incident_id_incidents"
        ),
    )
    op.create_index("ix_oncall_pages_incident_id", "oncall_pages", ["incident_id"])


def downgrade() -> None:
    op.drop_table("oncall_pages")
    op.drop_table("oncall_escalations")
    op.drop_index("ix_oncall_overrides_schedule", table_name="oncall_overrides")
    op.drop_table("oncall_overrides")
