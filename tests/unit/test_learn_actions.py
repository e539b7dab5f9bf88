"""Action items: overdue means open and past due; changes list only what really changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fireline.learn.actions import (
    ActionCategory,
    ActionChange,
    ActionItem,
    ActionStatus,
    changes_made,
    overdue,
)

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def item(
    item_id: int, due: datetime | None, status: ActionStatus = ActionStatus.OPEN
) -> ActionItem:
    return ActionItem(
        incident_id=1,
        title=f"item {item_id}",
        category=ActionCategory.DETECTION,
        created_by="ana",
        created_at=NOW - timedelta(days=9),
        updated_at=NOW - timedelta(days=9),
        due=due,
        status=status,
        item_id=item_id,
    )


@pytest.mark.parametrize(
    ("status", "due", "late"),
    [
        (ActionStatus.OPEN, NOW - timedelta(seconds=1), True),
        (ActionStatus.IN_PROGRESS, NOW - timedelta(days=3), True),
        (ActionStatus.OPEN, NOW, False),
        (ActionStatus.OPEN, None, False),
        (ActionStatus.DONE, NOW - timedelta(days=3), False),
        (ActionStatus.WONT_DO, NOW - timedelta(days=3), False),
    ],
)
def test_an_item_is_overdue_only_while_open_and_past_due(
    status: ActionStatus, due: datetime | None, late: bool
) -> None:
    assert item(1, due, status).is_overdue(NOW) is late


def test_overdue_items_come_most_overdue_first() -> None:
    items = [
        item(1, NOW - timedelta(days=1)),
        item(2, NOW + timedelta(days=1)),
        item(3, NOW - timedelta(days=5)),
        item(4, NOW - timedelta(days=9), ActionStatus.DONE),
    ]
    assert [i.item_id for i in overdue(items, NOW)] == [3, 1]


def test_a_change_lists_only_the_fields_it_really_changes() -> None:
    before = item(1, NOW)
    made = changes_made(
        before, ActionChange(status=ActionStatus.DONE, due=NOW, owner="bo", note=None)
    )
    assert made == {"status": ("open", "done"), "owner": ("none", "bo")}
    assert ActionChange().empty
    assert not ActionChange(note="x").empty
