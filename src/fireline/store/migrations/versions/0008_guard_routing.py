"""Guards pin versions (rollback): the routing of each guard.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("guards") as batch:
        batch.add_column(sa.Column("routing", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("guards") as batch:
        batch.drop_column("routing")
