"""Notifications tables of the state store (SQLAlchemy Core), on the shared `metadata`."""

from __future__ import annotations

from fireline.store.tables import metadata

__all__ = ["metadata"]
