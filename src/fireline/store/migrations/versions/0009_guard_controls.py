"""Guards narrow to a segment, throttle, filter, and carry their staged restoration.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("guards") as batch:
        batch.add_column(sa.Column("throttle", sa.Float, nullable=False, server_default="1.0"))
        batch.add_column(sa.Column("segment", sa.JSON))
        batch.add_column(sa.Column("filters", sa.JSON))
        batch.add_column(sa.Column("restoration", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("guards") as batch:
        for name in ("restoration", "filters", "segment", "throttle"):
            batch.drop_column(name)
