"""Incident response: roles, the audit hash chain, triage fields.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fireline.store.tables import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("fingerprint", sa.String(32)))
        batch.add_column(sa.Column("nist", sa.String(32)))
        batch.add_column(sa.Column("acknowledged_at", UTCDateTime()))
        batch.create_index("ix_incidents_fingerprint", ["fingerprint"])
    with op.batch_alter_table("timeline") as batch:
        batch.add_column(sa.Column("previous_hash", sa.String(64)))
        batch.add_column(sa.Column("hash", sa.String(64)))
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("hash", sa.String(64)),
        sa.PrimaryKeyConstraint("id", name="pk_audit_head"),
    )
    # The one row every writer locks; entries written before this migration stay unchained.
    op.bulk_insert(head, [{"id": 1, "hash": None}])
    op.create_table(
        "incident_roles",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer, nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("person", sa.String(200), nullable=False),
        sa.Column("assigned_at", UTCDateTime(), nullable=False),
        sa.Column("assigned_by", sa.String(200), nullable=False),
        sa.Column("ended_at", UTCDateTime()),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_incident_roles_incident_id_incidents"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_incident_roles"),
    )
    op.create_index("ix_incident_roles_incident_id", "incident_roles", ["incident_id"])


def downgrade() -> None:
    op.drop_table("incident_roles")
    op.drop_table("audit_head")
    with op.batch_alter_table("timeline") as batch:
        batch.drop_column("hash")
        batch.drop_column("previous_hash")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_index("ix_incidents_fingerprint")
        batch.drop_column("acknowledged_at")
        batch.drop_column("nist")
        batch.drop_column("fingerprint")
