"""Status page updates and regulatory clocks.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fireline.store.tables import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "status_updates",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.Integer, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("title", sa.String(200)),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_status_updates"),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_status_updates_incident_id_incidents"
        ),
    )
    op.create_index("ix_status_updates_incident_id", "status_updates", ["incident_id"])
    op.create_table(
        "regulatory_clocks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.Integer, nullable=False),
        sa.Column("regime", sa.String(64), nullable=False),
        sa.Column("variant", sa.String(64)),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("started_by", sa.String(200), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("reported_at", UTCDateTime()),
        sa.Column("reported_by", sa.String(200)),
        sa.Column("reminders_sent", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_regulatory_clocks"),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_regulatory_clocks_incident_id_incidents"
        ),
    )
    op.create_index("ix_regulatory_clocks_incident_id", "regulatory_clocks", ["incident_id"])
    op.create_index("ix_regulatory_clocks_due_at", "regulatory_clocks", ["due_at"])


def downgrade() -> None:
    op.drop_table("regulatory_clocks")
    op.drop_table("status_updates")
