"""Reads and writes of the review queue, inside one state transaction."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from fireline.errors import NotFound
from fireline.review.queue import Review, ReviewStatus
from fireline.store.tables_reviews import reviews

#: Decided statuses whose reviews are labels.
LABELLED = (ReviewStatus.APPROVED, ReviewStatus.EDITED, ReviewStatus.REJECTED)


class ReviewRepository:
    """The review queue of one transaction (`StateTx.connection`)."""

    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def add(self, review: Review) -> Review:
        """Store a new review; its `client_id` must not be stored yet (a unique key)."""
        new_id = self._db.execute(
            reviews.insert().values(**_values(review)).returning(reviews.c.id)
        ).scalar_one()
        return replace(review, review_id=int(new_id))

    def get(self, review_id: int, *, for_update: bool = False) -> Review:
        query = sa.select(reviews).where(reviews.c.id == review_id)
        if for_update:
            query = query.with_for_update()
        row = self._db.execute(query).mappings().first()
        if row is None:
            raise NotFound(f"review {review_id} does not exist")
        return _review_from(row)

    def by_client_id(self, client_id: str) -> Review | None:
        query = sa.select(reviews).where(reviews.c.client_id == client_id)
        row = self._db.execute(query).mappings().first()
        return None if row is None else _review_from(row)

    def save_decision(self, review: Review) -> None:
        """Write a review's status and decision (the rest of a review never changes)."""
        self._db.execute(
            reviews.update()
            .where(reviews.c.id == review.review_id)
            .values(
                status=review.status.value,
                final_output=review.final_output,
                decided_by=review.decided_by,
                decided_at=review.decided_at,
                note=review.note,
            )
        )

    def expire_overdue(self, now: datetime, *, feature: str | None = None) -> int:
        """Mark every pending review whose time is up as expired; how many were."""
        query = (
            reviews.update()
            .where(reviews.c.status == ReviewStatus.PENDING.value, reviews.c.expires_at <= now)
            .values(status=ReviewStatus.EXPIRED.value, decided_at=reviews.c.expires_at)
        )
        if feature is not None:
            query = query.where(reviews.c.feature == feature)
        return int(self._db.execute(query).rowcount)

    def find(
        self,
        *,
        status: ReviewStatus | None = None,
        feature: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Review]:
        """Reviews of a status (pending: oldest first, the queue's order; else newest first)."""
        query = sa.select(reviews).limit(limit).offset(offset)
        if status is ReviewStatus.PENDING:
            query = query.order_by(reviews.c.created_at, reviews.c.id)
        else:
            query = query.order_by(reviews.c.created_at.desc(), reviews.c.id.desc())
        if status is not None:
            query = query.where(reviews.c.status == status.value)
        if feature is not None:
            query = query.where(reviews.c.feature == feature)
        return [_review_from(row) for row in self._db.execute(query).mappings()]

    def labelled(
        self, *, after_id: int = 0, feature: str | None = None, limit: int = 500
    ) -> list[Review]:
        """Decided reviews (approved, edited, rejected) in id order, after `after_id`."""
        query = (
            sa.select(reviews)
            .where(reviews.c.id > after_id, reviews.c.status.in_([s.value for s in LABELLED]))
            .order_by(reviews.c.id)
            .limit(limit)
        )
        if feature is not None:
            query = query.where(reviews.c.feature == feature)
        return [_review_from(row) for row in self._db.execute(query).mappings()]


def _values(review: Review) -> dict[str, object]:
    return {
        "client_id": review.client_id,
        "feature": review.feature,
        "incident_id": review.incident_id,
        "call_id": review.call_id,
        "input_text": review.input_text,
        "output_text": review.output_text,
        "context": dict(review.context),
        "status": review.status.value,
        "final_output": review.final_output,
        "decided_by": review.decided_by,
        "decided_at": review.decided_at,
        "note": review.note,
        "created_at": review.created_at,
        "expires_at": review.expires_at,
    }


def _review_from(row: RowMapping) -> Review:
    return Review(
        feature=row["feature"],
        client_id=row["client_id"],
        input_text=row["input_text"],
        output_text=row["output_text"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        context=dict(row["context"] or {}),
        status=ReviewStatus(row["status"]),
        incident_id=row["incident_id"],
        call_id=row["call_id"],
        final_output=row["final_output"],
        decided_by=row["decided_by"],
        decided_at=row["decided_at"],
        note=row["note"],
        review_id=row["id"],
    )
