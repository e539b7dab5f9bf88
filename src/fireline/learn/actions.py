"""Action items: what people commit to after an incident, with an owner and a due time."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class ActionCategory(StrEnum):
    """What an action item improves."""

    DETECTION = "detection"
    PREVENTION = "prevention"
    RESPONSE = "response"
    DOCUMENTATION = "documentation"
    TRAINING = "training"


class ActionStatus(StrEnum):
    """Where an action item stands; `done` and `wont_do` close it."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    WONT_DO = "wont_do"

    @property
    def is_closed(self) -> bool:
        return self in (ActionStatus.DONE, ActionStatus.WONT_DO)


@dataclass(frozen=True, slots=True)
class ActionItem:
    """One follow-up of an incident."""

    incident_id: int
    title: str
    category: ActionCategory
    created_by: str
    created_at: datetime
    updated_at: datetime
    owner: str | None = None
    due: datetime | None = None
    status: ActionStatus = ActionStatus.OPEN
    note: str | None = None
    item_id: int | None = None

    def is_overdue(self, now: datetime) -> bool:
        """Open (not done, not won't-do) with its due time passed.

        >>> from datetime import UTC
        >>> t = datetime(2026, 3, 2, tzinfo=UTC)
        >>> item = ActionItem(1, "add a canary", ActionCategory.DETECTION, "ana", t, t, due=t)
        >>> item.is_overdue(t), item.is_overdue(datetime(2026, 3, 3, tzinfo=UTC))
        (False, True)
        """
        return not self.status.is_closed and self.due is not None and self.due < now


@dataclass(frozen=True, slots=True)
class ActionChange:
    """What a person changes on an action item; None leaves a field as it is."""

    status: ActionStatus | None = None
    owner: str | None = None
    due: datetime | None = None
    note: str | None = None

    @property
    def empty(self) -> bool:
        return all(v is None for v in (self.status, self.owner, self.due, self.note))


def changes_made(item: ActionItem, change: ActionChange) -> dict[str, tuple[str, str]]:
    """The fields `change` really changes on `item`: name → (before, after), as text."""
    made: dict[str, tuple[str, str]] = {}
    pairs: Iterable[tuple[str, object, object]] = (
        ("status", item.status, change.status),
        ("owner", item.owner, change.owner),
        ("due", item.due, change.due),
        ("note", item.note, change.note),
    )
    for name, before, after in pairs:
        if after is not None and after != before:
            made[name] = (_text(before), _text(after))
    return made


def overdue(items: Iterable[ActionItem], now: datetime) -> list[ActionItem]:
    """The overdue items, most overdue first."""
    late = [i for i in items if i.is_overdue(now)]
    return sorted(late, key=lambda i: (i.due, i.item_id or 0))


def _text(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
