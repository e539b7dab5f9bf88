"""The human review queue of containment level 2.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fireline.store.tables import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.String(128), nullable=False),
        sa.Column("feature", sa.String(128), nullable=False),
        sa.Column("incident_id", sa.Integer),
        sa.Column("call_id", sa.String(128)),
        sa.Column("input_text", sa.Text, nullable=False),
        sa.Column("output_text", sa.Text, nullable=False),
        sa.Column("context", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("final_output", sa.Text),
        sa.Column("decided_by", sa.String(200)),
        sa.Column("decided_at", UTCDateTime()),
        sa.Column("note", sa.Text),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reviews"),
        sa.UniqueConstraint("client_id", name="uq_reviews_client_id"),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_reviews_incident_id_incidents"
        ),
    )
    op.create_index("ix_reviews_feature", "reviews", ["feature"])
    op.create_index("ix_reviews_incident_id", "reviews", ["incident_id"])
    op.create_index("ix_reviews_status", "reviews", ["status"])


def downgrade() -> None:
    op.drop_table("reviews")
