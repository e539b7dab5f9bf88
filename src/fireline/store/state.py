"""The state store: incidents, alerts, timeline, guards and engine state, behind a unit of work.

SQLite by default (a file in the data directory), PostgreSQL with a `postgresql+psycopg://` URL.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

from fireline.errors import StoreUnavailable
from fireline.store.state_tx import ApiToken, StateTx

MIGRATIONS = Path(__file__).parent / "migrations"


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


IN_MEMORY = ("sqlite://", "sqlite:///:memory:")


def create_state_engine(url: str) -> Engine:
    """An engine for `url`; in-memory SQLite shares one connection so every session sees it."""
    try:
        if url in IN_MEMORY:
            engine = sa.create_engine(
                "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
            )
        elif url.startswith("sqlite"):
            engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        else:
            return sa.create_engine(url, pool_pre_ping=True)
    except (sa.exc.ArgumentError, ImportError) as error:
        raise StoreUnavailable(f"cannot use state store URL {url!r}: {error}") from None

    @sa.event.listens_for(engine, "connect")
    def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transactions out of pysqlite's hands so that BEGIN is ours (below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if url not in IN_MEMORY:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _sqlite_begin(connection: Connection) -> None:
        # A writing unit of work takes SQLite's write lock at once, so the reads it makes
        # decisions on cannot change under it (pysqlite would begin at the first write).
        read_only = connection.get_execution_options().get("fireline_read_only", False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


class StateStore:
    """Opens transactions (`unit_of_work`) on the state database and runs its migrations."""

    def __init__(self, url: str, *, engine: Engine | None = None) -> None:
        self.url = url
        self.engine = engine or create_state_engine(url)
        # One in-memory connection is shared by every thread; take turns on it.
        self._turns = threading.RLock() if url in IN_MEMORY else None

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (idempotent)."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def current_revision(self) -> str | None:
        with self.engine.connect() as connection:
            if not sa.inspect(connection).has_table("alembic_version"):
                return None
            row = connection.execute(sa.text("SELECT version_num FROM alembic_version")).first()
            return None if row is None else str(row[0])

    @contextmanager
    def unit_of_work(self, *, read_only: bool = False) -> Iterator[StateTx]:
        """One transaction: committed when the block ends, rolled back if it raises.

        Writing units of work are serialized on SQLite; on PostgreSQL, the rows they decide
        on are read with FOR UPDATE.
        """
        with self._turns or nullcontext(), self.engine.connect() as connection:
            connection.execution_options(fireline_read_only=read_only)
            try:
                with connection.begin():
                    yield StateTx(connection)
            except sa.exc.OperationalError as error:
                raise StoreUnavailable(f"state store unavailable: {error.orig}") from None

    def dispose(self) -> None:
        self.engine.dispose()


__all__ = ["IN_MEMORY", "ApiToken", "StateStore", "StateTx", "create_state_engine", "sqlite_url"]
