"""Changes: deploys of models, prompts, indexes, flags, configs; upstream status.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fireline.store.tables import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "changes",
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("time", UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("version", sa.String(200), nullable=False),
        sa.Column("feature", sa.String(128)),
        sa.Column("previous_version", sa.String(200)),
        sa.Column("author", sa.String(200)),
        sa.Column("description", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_changes"),
    )
    op.create_index("ix_changes_time", "changes", ["time"])
    op.create_index("ix_changes_feature", "changes", ["feature"])


def downgrade() -> None:
    op.drop_table("changes")
