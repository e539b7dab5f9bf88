"""Incident response: roles, the audit hash chain, triage fields.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("fingerprint", sa.String(32)))
        batch.add_column(sa.Column("nist", sa.String(32)))
        batch.create_index("ix_incidents_fingerprint", ["fingerprint"])


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_index("ix_incidents_fingerprint")
        batch.drop_column("nist")
        batch.drop_column("fingerprint")
