"""The learning area's reads and writes of the state store, inside one state transaction
(`StateTx.connection`): action items, and the incidents and first alerts metrics need."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from fireline.errors import NotFound
from fireline.learn.actions import ActionCategory, ActionItem, ActionStatus
from fireline.learn.metrics import RECURRENCE_WINDOW, IncidentFacts, onset_of
from fireline.store.state_tx import incident_from
from fireline.store.tables import alerts, incidents
from fireline.store.tables_learning import action_items

_CLOSED = (ActionStatus.DONE.value, ActionStatus.WONT_DO.value)


class LearningRepository:
    """Action items and metric facts of one transaction."""

    def __init__(self, connection: Connection) -> None:
        self._db = connection

    # ------------------------------------------------------------ action items

    def add_action(self, item: ActionItem) -> ActionItem:
        new_id = self._db.execute(
            action_items.insert().values(**_values(item)).returning(action_items.c.id)
        ).scalar_one()
        return _item_with_id(item, int(new_id))

    def get_action(self, item_id: int, *, for_update: bool = False) -> ActionItem:
        query = sa.select(action_items).where(action_items.c.id == item_id)
        if for_update:
            query = query.with_for_update()
        row = self._db.execute(query).mappings().first()
        if row is None:
            raise NotFound(f"action item {item_id} does not exist")
        return _item_from(row)

    def save_action(self, item: ActionItem) -> None:
        assert item.item_id is not None
        self._db.execute(
            action_items.update().where(action_items.c.id == item.item_id).values(**_values(item))
        )

    def actions(
        self,
        *,
        incident_id: int | None = None,
        overdue_at: datetime | None = None,
        open_only: bool = False,
        limit: int = 500,
    ) -> list[ActionItem]:
        """Action items by id; with `overdue_at`, only those open and due before it."""
        query = sa.select(action_items).order_by(action_items.c.id).limit(limit)
        if incident_id is not None:
            query = query.where(action_items.c.incident_id == incident_id)
        if open_only or overdue_at is not None:
            query = query.where(action_items.c.status.not_in(_CLOSED))
        if overdue_at is not None:
            query = query.where(action_items.c.due < overdue_at)
        return [_item_from(row) for row in self._db.execute(query).mappings()]

    # ------------------------------------------------------------ metrics

    def incident_facts(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> list[IncidentFacts]:
        """The incidents detected in [since − the recurrence window, until), each with the
        onset its earliest alert records."""
        query = sa.select(incidents).order_by(incidents.c.detected_at, incidents.c.id)
        if since is not None:
            query = query.where(incidents.c.detected_at >= since - RECURRENCE_WINDOW)
        if until is not None:
            query = query.where(incidents.c.detected_at < until)
        found = [incident_from(row) for row in self._db.execute(query).mappings()]
        onsets = self._onsets([i.incident_id for i in found if i.incident_id is not None])
        return [IncidentFacts(i, onsets.get(i.incident_id or 0)) for i in found]

    def _onsets(self, incident_ids: list[int]) -> dict[int, datetime]:
        onsets: dict[int, datetime] = {}
        for start in range(0, len(incident_ids), 500):  # bounded IN lists
            chunk = incident_ids[start : start + 500]
            query = (
                sa.select(
                    alerts.c.incident_id, alerts.c.window_start, alerts.c.evidence, alerts.c.id
                )
                .where(alerts.c.incident_id.in_(chunk))
                .order_by(alerts.c.fired_at, alerts.c.id)
            )
            for row in self._db.execute(query).mappings():
                if row["incident_id"] not in onsets:  # the earliest alert only
                    onsets[row["incident_id"]] = onset_of(
                        row["evidence"] or {}, row["window_start"]
                    )
        return onsets


def _values(item: ActionItem) -> dict[str, object]:
    return {
        "incident_id": item.incident_id,
        "title": item.title,
        "owner": item.owner,
        "due": item.due,
        "category": item.category.value,
        "status": item.status.value,
        "created_by": item.created_by,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
        "note": item.note,
    }


def _item_with_id(item: ActionItem, item_id: int) -> ActionItem:
    return replace(item, item_id=item_id)


def _item_from(row: RowMapping) -> ActionItem:
    return ActionItem(
        incident_id=row["incident_id"],
        title=row["title"],
        category=ActionCategory(row["category"]),
        created_by=row["created_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        owner=row["owner"],
        due=row["due"],
        status=ActionStatus(row["status"]),
        note=row["note"],
        item_id=row["id"],
    )
