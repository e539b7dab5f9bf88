"""Alembic environment: migrations run on the connection fireline hands over."""

from __future__ import annotations

from alembic import context

from fireline.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run fireline's migrations through StateStore.upgrade() or `fireline migrate`"
    )

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
