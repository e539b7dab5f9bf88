"""Reads and writes of status updates and regulatory clocks, inside one state transaction."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from fireline.errors import NotFound
from fireline.status.regulatory import RegulatoryClock
from fireline.status.summary import PublicStatus, PublicUpdate
from fireline.store.tables import engine_state, guards, incidents
from fireline.store.tables_status import regulatory_clocks, status_updates

# Detection keeps one state row per feature it watches under this name prefix
# (fireline.detect.engine); its names are the features detection has seen.
_DETECTED_FEATURE_PREFIX = "detect/feature/"


class StatusRepository:
    """Status updates and regulatory clocks of one transaction (`StateTx.connection`)."""

    def __init__(self, connection: Connection) -> None:
        self._db = connection

    # ------------------------------------------------------------ public updates

    def add_update(self, update: PublicUpdate) -> PublicUpdate:
        new_id = self._db.execute(
            status_updates.insert()
            .values(
                incident_id=update.incident_id,
                status=update.status.value,
                title=update.title,
                body=update.body,
                author=update.author,
                created_at=update.created_at,
            )
            .returning(status_updates.c.id)
        ).scalar_one()
        return PublicUpdate(
            incident_id=update.incident_id,
            status=update.status,
            body=update.body,
            created_at=update.created_at,
            author=update.author,
            title=update.title,
            update_id=int(new_id),
        )

    def updates(
        self, incident_ids: Iterable[int] | None = None, *, limit: int = 1000
    ) -> list[PublicUpdate]:
        """Published updates newest first, of the given incidents or of all."""
        query = (
            sa.select(status_updates)
            .order_by(status_updates.c.created_at.desc(), status_updates.c.id.desc())
            .limit(limit)
        )
        if incident_ids is not None:
            query = query.where(status_updates.c.incident_id.in_(list(incident_ids)))
        return [_update_from(row) for row in self._db.execute(query).mappings()]

    # ------------------------------------------------------------ features

    def features_seen(self) -> dict[str, datetime | None]:
        """Every feature fireline knows of, with the first time it is known to have been seen
        (None when only detection knows it, which keeps no such time)."""
        seen: dict[str, datetime | None] = {}
        names = sa.select(engine_state.c.name).where(
            engine_state.c.name.startswith(_DETECTED_FEATURE_PREFIX, autoescape=True)
        )
        for (name,) in self._db.execute(names):
            seen[str(name).removeprefix(_DETECTED_FEATURE_PREFIX)] = None
        firsts = sa.select(incidents.c.feature, sa.func.min(incidents.c.detected_at)).group_by(
            incidents.c.feature
        )
        guarded = sa.select(guards.c.feature, guards.c.updated_at)
        for feature, at in [*self._db.execute(firsts), *self._db.execute(guarded)]:
            known = seen.get(feature)
            seen[feature] = at if known is None else min(known, at)
        return seen

    # ------------------------------------------------------------ regulatory clocks

    def add_clock(self, clock: RegulatoryClock) -> RegulatoryClock:
        new_id = self._db.execute(
            regulatory_clocks.insert()
            .values(**_clock_values(clock))
            .returning(regulatory_clocks.c.id)
        ).scalar_one()
        return replace(clock, clock_id=int(new_id))

    def get_clock(self, clock_id: int) -> RegulatoryClock:
        row = (
            self._db.execute(sa.select(regulatory_clocks).where(regulatory_clocks.c.id == clock_id))
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound(f"regulatory clock {clock_id} does not exist")
        return _clock_from(row)

    def clocks(
        self, *, open_only: bool = False, incident_id: int | None = None
    ) -> list[RegulatoryClock]:
        """Clocks soonest due first."""
        query = sa.select(regulatory_clocks).order_by(
            regulatory_clocks.c.due_at, regulatory_clocks.c.id
        )
        if open_only:
            query = query.where(regulatory_clocks.c.reported_at.is_(None))
        if incident_id is not None:
            query = query.where(regulatory_clocks.c.incident_id == incident_id)
        return [_clock_from(row) for row in self._db.execute(query).mappings()]

    def mark_reported(self, clock_id: int, *, at: datetime, by: str) -> None:
        self._db.execute(
            regulatory_clocks.update()
            .where(regulatory_clocks.c.id == clock_id)
            .values(reported_at=at, reported_by=by)
        )

    def mark_reminded(self, clock_id: int, points: Iterable[str]) -> None:
        self._db.execute(
            regulatory_clocks.update()
            .where(regulatory_clocks.c.id == clock_id)
            .values(reminders_sent=sorted(set(points)))
        )


def _update_from(row: RowMapping) -> PublicUpdate:
    return PublicUpdate(
        incident_id=row["incident_id"],
        status=PublicStatus(row["status"]),
        body=row["body"],
        created_at=row["created_at"],
        author=row["author"],
        title=row["title"],
        update_id=row["id"],
    )


def _clock_values(clock: RegulatoryClock) -> dict[str, object]:
    return {
        "incident_id": clock.incident_id,
        "regime": clock.regime,
        "variant": clock.variant,
        "reason": clock.reason,
        "started_by": clock.started_by,
        "started_at": clock.started_at,
        "due_at": clock.due_at,
        "reported_at": clock.reported_at,
        "reported_by": clock.reported_by,
        "reminders_sent": list(clock.reminders_sent),
    }


def _clock_from(row: RowMapping) -> RegulatoryClock:
    return RegulatoryClock(
        incident_id=row["incident_id"],
        regime=row["regime"],
        variant=row["variant"],
        started_at=row["started_at"],
        due_at=row["due_at"],
        reason=row["reason"],
        started_by=row["started_by"],
        reported_at=row["reported_at"],
        reported_by=row["reported_by"],
        reminders_sent=tuple(row["reminders_sent"]),
        clock_id=row["id"],
    )
