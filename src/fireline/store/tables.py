"""The state store's tables (SQLAlchemy Core); Alembic migrations must match them exactly."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from fireline.domain.incident import IncidentState


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike."""

    impl = sa.DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the state store; use aware UTC times")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

LIFECYCLE_COLUMNS = tuple(f"{state.value}_at" for state in IncidentState)

incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("feature", sa.String(128), nullable=False, index=True),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("severity", sa.String(2), nullable=False),
    sa.Column("state", sa.String(32), nullable=False, index=True),
    sa.Column("title", sa.String(500), nullable=False),
    sa.Column("fingerprint", sa.String(32), index=True),
    sa.Column("nist", sa.String(32)),
    sa.Column("acknowledged_at", UTCDateTime()),
    # One timestamp per lifecycle state: the basis of MTTD, MTTA, MTTC and MTTR.
    *(sa.Column(name, UTCDateTime(), nullable=name != "detected_at") for name in LIFECYCLE_COLUMNS),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id"), index=True),
    sa.Column("detector", sa.String(128), nullable=False),
    sa.Column("feature", sa.String(128), nullable=False, index=True),
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
)

timeline = sa.Table(
    "timeline",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id"), nullable=False, index=True),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    # The audit chain (fireline.domain.audit): null on entries written before it began.
    sa.Column("previous_hash", sa.String(64)),
    sa.Column("hash", sa.String(64)),
)

# The hash of the newest timeline entry: the chain must reach it, so removing entries at the
# end is found too. One row, locked by each writer while it appends.
audit_head = sa.Table(
    "audit_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("hash", sa.String(64)),
)

# Who holds each response role of an incident; a handover ends one row and starts another.
incident_roles = sa.Table(
    "incident_roles",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id"), nullable=False, index=True),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("person", sa.String(200), nullable=False),
    sa.Column("assigned_at", UTCDateTime(), nullable=False),
    sa.Column("assigned_by", sa.String(200), nullable=False),
    sa.Column("ended_at", UTCDateTime()),
)

guards = sa.Table(
    "guards",
    metadata,
    sa.Column("feature", sa.String(128), primary_key=True),
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id")),
    sa.Column("probe_share", sa.Float, nullable=False),
    sa.Column("set_by", sa.String(200)),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("routing", sa.JSON),
    # Share of requests allowed (1: all); the segment the guard is narrowed to (null: the
    # whole feature); block patterns {"input": [...], "output": [...]}; and the staged
    # restoration under way, if any (`Restoration.to_state()`).
    sa.Column("throttle", sa.Float, nullable=False, server_default="1.0"),
    sa.Column("segment", sa.JSON),
    sa.Column("filters", sa.JSON),
    sa.Column("restoration", sa.JSON),
)

# Small named documents the detection engine keeps between ticks and restarts
# (detector states, the event-time watermark).
engine_state = sa.Table(
    "engine_state",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("value", sa.JSON, nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

# API tokens are stored as their SHA-256 only: a token is 256 random bits, so a fast hash is
# enough, and a leaked database does not leak usable tokens.
api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("revoked_at", UTCDateTime()),
)

# What was deployed when: investigation correlates incidents with these, rollback reads them.
changes = sa.Table(
    "changes",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("time", UTCDateTime(), nullable=False, index=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("version", sa.String(200), nullable=False),
    sa.Column("feature", sa.String(128), index=True),
    sa.Column("previous_version", sa.String(200)),
    sa.Column("author", sa.String(200)),
    sa.Column("description", sa.Text),
)


# Tables of other areas live in their own modules on the same `metadata`; importing them here
# registers them wherever the state store's schema is used.
from fireline.store import (  # noqa: E402, F401
    tables_learning,
    tables_notify,
    tables_oncall,
    tables_reviews,
    tables_status,
)
