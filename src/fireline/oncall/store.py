"""Reads and writes of the on-call tables, on the connection of a state-store transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from fireline.errors import NotFound
from fireline.oncall.schedule import Override
from fireline.store.tables_oncall import oncall_escalations, oncall_overrides, oncall_pages


@dataclass(frozen=True, slots=True)
class Escalation:
    """An incident's paging: when it began, its policy and tier, and its acknowledgement."""

    incident_id: int
    policy: str
    started_at: datetime
    tier: int
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    acknowledged_via: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """One person (or nobody) paged for an incident at one tier, and how often."""

    page_id: int
    incident_id: int
    tier: int
    person: str | None
    target: str
    created_at: datetime
    last_sent_at: datetime | None
    attempts: int
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None

    @property
    def key(self) -> str:
        return self.person if self.person is not None else f"nobody:{self.target}"


class OnCallRepository:
    """The on-call tables, inside the caller's transaction (`StateTx.connection`)."""

    def __init__(self, connection: Connection) -> None:
        self._db = connection

    # ------------------------------------------------------------ overrides

    def add_override(self, override: Override, *, by: str, now: datetime) -> Override:
        new_id = self._db.execute(
            oncall_overrides.insert()
            .values(
                schedule=override.schedule,
                person=override.person,
                starts_at=override.start,
                ends_at=override.end,
                reason=override.reason,
                created_by=by,
                created_at=now,
            )
            .returning(oncall_overrides.c.id)
        ).scalar_one()
        return self.get_override(int(new_id))

    def get_override(self, override_id: int) -> Override:
        row = (
            self._db.execute(
                sa.select(oncall_overrides).where(
                    oncall_overrides.c.id == override_id, oncall_overrides.c.removed_at.is_(None)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound(f"override {override_id} does not exist")
        return _override_from(row)

    def overrides(
        self, *, schedule: str | None = None, ending_after: datetime | None = None
    ) -> list[Override]:
        """Overrides not removed, in the order they were added (a later one wins)."""
        query = (
            sa.select(oncall_overrides)
            .where(oncall_overrides.c.removed_at.is_(None))
            .order_by(oncall_overrides.c.id)
        )
        if schedule is not None:
            query = query.where(oncall_overrides.c.schedule == schedule)
        if ending_after is not None:
            query = query.where(oncall_overrides.c.ends_at > ending_after)
        return [_override_from(row) for row in self._db.execute(query).mappings()]

    def remove_override(self, override_id: int, *, by: str, now: datetime) -> Override:
        found = self.get_override(override_id)
        self._db.execute(
            oncall_overrides.update()
            .where(oncall_overrides.c.id == override_id)
            .values(removed_by=by, removed_at=now)
        )
        return found

    # ------------------------------------------------------------ escalations

    def escalation(self, incident_id: int, *, for_update: bool = False) -> Escalation | None:
        query = sa.select(oncall_escalations).where(oncall_escalations.c.incident_id == incident_id)
        if for_update:
            query = query.with_for_update()
        row = self._db.execute(query).mappings().first()
        return None if row is None else _escalation_from(row)

    def start_escalation(
        self, incident_id: int, policy: str, *, now: datetime, tier: int = 0
    ) -> Escalation:
        self._db.execute(
            oncall_escalations.insert().values(
                incident_id=incident_id, policy=policy, started_at=now, tier=tier, updated_at=now
            )
        )
        return Escalation(incident_id, policy, now, tier)

    def update_escalation(self, incident_id: int, *, policy: str, tier: int, now: datetime) -> None:
        self._db.execute(
            oncall_escalations.update()
            .where(oncall_escalations.c.incident_id == incident_id)
            .values(policy=policy, tier=tier, updated_at=now)
        )

    def acknowledge(self, incident_id: int, *, by: str, via: str, now: datetime) -> None:
        """Stamp the escalation and every page of it not acknowledged yet."""
        self._db.execute(
            oncall_escalations.update()
            .where(oncall_escalations.c.incident_id == incident_id)
            .values(acknowledged_at=now, acknowledged_by=by, acknowledged_via=via, updated_at=now)
        )
        self._db.execute(
            oncall_pages.update()
            .where(
                oncall_pages.c.incident_id == incident_id,
                oncall_pages.c.acknowledged_at.is_(None),
            )
            .values(acknowledged_at=now, acknowledged_by=by)
        )

    # ------------------------------------------------------------ pages

    def pages(self, incident_id: int) -> list[Page]:
        query = (
            sa.select(oncall_pages)
            .where(oncall_pages.c.incident_id == incident_id)
            .order_by(oncall_pages.c.id)
        )
        return [_page_from(row) for row in self._db.execute(query).mappings()]

    def get_page(self, page_id: int) -> Page:
        row = (
            self._db.execute(sa.select(oncall_pages).where(oncall_pages.c.id == page_id))
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound(f"page {page_id} does not exist")
        return _page_from(row)

    def add_page(
        self, incident_id: int, tier: int, person: str | None, target: str, *, now: datetime
    ) -> Page:
        """Record a first page; one to nobody is recorded as never sent."""
        sent = person is not None
        new_id = self._db.execute(
            oncall_pages.insert()
            .values(
                incident_id=incident_id,
                tier=tier,
                person=person,
                target=target,
                created_at=now,
                last_sent_at=now if sent else None,
                attempts=1 if sent else 0,
            )
            .returning(oncall_pages.c.id)
        ).scalar_one()
        return self.get_page(int(new_id))

    def page_repeated(self, page_id: int, attempts: int, *, now: datetime) -> Page:
        self._db.execute(
            oncall_pages.update()
            .where(oncall_pages.c.id == page_id)
            .values(attempts=attempts, last_sent_at=now)
        )
        return self.get_page(page_id)


def _override_from(row: RowMapping) -> Override:
    return Override(
        schedule=row["schedule"],
        person=row["person"],
        start=row["starts_at"],
        end=row["ends_at"],
        reason=row["reason"],
        override_id=row["id"],
        created_by=row["created_by"],
    )


def _escalation_from(row: RowMapping) -> Escalation:
    return Escalation(
        incident_id=row["incident_id"],
        policy=row["policy"],
        started_at=row["started_at"],
        tier=row["tier"],
        acknowledged_at=row["acknowledged_at"],
        acknowledged_by=row["acknowledged_by"],
        acknowledged_via=row["acknowledged_via"],
    )


def _page_from(row: RowMapping) -> Page:
    return Page(
        page_id=row["id"],
        incident_id=row["incident_id"],
        tier=row["tier"],
        person=row["person"],
        target=row["target"],
        created_at=row["created_at"],
        last_sent_at=row["last_sent_at"],
        attempts=row["attempts"],
        acknowledged_at=row["acknowledged_at"],
        acknowledged_by=row["acknowledged_by"],
    )
