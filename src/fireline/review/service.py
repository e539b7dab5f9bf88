"""The review queue as one service over the state store: submit, list, decide, export labels."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from fireline.clock import Clock
from fireline.domain.guard import ContainmentLevel, Guard
from fireline.domain.incident import TimelineEntry
from fireline.errors import IllegalTransition
from fireline.review.queue import Decision, Label, Review, ReviewStatus, decide, expire, label_of
from fireline.review.store import ReviewRepository
from fireline.store.state import StateStore, StateTx

if TYPE_CHECKING:
    from fireline.runtime import Fireline

#: How long a review waits for a person when the app does not say (the SDK always says).
DEFAULT_WAIT_S = 30.0
#: Reviews read per transaction while exporting labels.
_LABEL_BATCH = 500


class ReviewService:
    """Holds outputs for review, records people's decisions, and exports them as labels.

    `guard` reads a feature's guard (a review takes its incident from a level-2 guard);
    `acting` opens the transaction of a person's decision (by default a plain one).
    """

    def __init__(
        self,
        state: StateStore,
        clock: Clock,
        *,
        guard: Callable[[str], Guard] | None = None,
        acting: Callable[[], AbstractContextManager[StateTx]] | None = None,
    ) -> None:
        self._state = state
        self._clock = clock
        self._guard = guard
        self._acting = acting or state.unit_of_work

    def submit(
        self,
        feature: str,
        client_id: str,
        input_text: str,
        output_text: str,
        *,
        context: Mapping[str, Any] | None = None,
        call_id: str | None = None,
        wait_s: float | None = None,
    ) -> tuple[Review, bool]:
        """Hold an output for review; a retry with the same `client_id` gets the same review.

        Returns the review and whether it is new. A `client_id` already used for another
        feature, input or output is IllegalTransition: a retry never changes what was held.
        """
        incident_id = None
        if self._guard is not None:
            guard = self._guard(feature)
            if guard.level == ContainmentLevel.HUMAN_REVIEW:
                incident_id = guard.incident_id
        now = self._clock.now()
        held = Review.submitted(
            feature,
            client_id,
            input_text,
            output_text,
            at=now,
            wait_s=DEFAULT_WAIT_S if wait_s is None else wait_s,
            context=context,
            incident_id=incident_id,
            call_id=call_id,
        )
        for attempt in range(2):
            try:
                with self._state.unit_of_work() as tx:
                    repo = ReviewRepository(tx.connection)
                    found = repo.by_client_id(client_id)
                    if found is None:
                        return repo.add(held), True
            except sa.exc.IntegrityError:  # a concurrent retry stored it first: read it
                if attempt:
                    raise
                continue
            if not found.same_submission(held):
                raise IllegalTransition(
                    f"client_id {client_id!r} was already used for review {found.review_id} "
                    "with another feature, input or output"
                )
            return found.as_of(now), False
        raise AssertionError("unreachable")  # pragma: no cover

    def get(self, review_id: int) -> Review:
        """The review as it reads now (pending ones whose time is up read as expired)."""
        with self._state.unit_of_work(read_only=True) as tx:
            review = ReviewRepository(tx.connection).get(review_id)
        return review.as_of(self._clock.now())

    def reviews(
        self,
        *,
        status: ReviewStatus | None = ReviewStatus.PENDING,
        feature: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Review]:
        """Reviews of a status, after marking the pending ones whose time is up as expired."""
        with self._state.unit_of_work() as tx:
            repo = ReviewRepository(tx.connection)
            repo.expire_overdue(self._clock.now())
            return repo.find(status=status, feature=feature, limit=limit, offset=offset)

    def decide(
        self,
        review_id: int,
        decision: Decision,
        *,
        by: str,
        output: str | None = None,
        note: str | None = None,
    ) -> Review:
        """Record a person's decision, on the incident's timeline when there is an incident.

        A review already decided, or whose time is up (it is marked expired), is
        IllegalTransition.
        """
        now = self._clock.now()
        with self._acting() as tx:
            repo = ReviewRepository(tx.connection)
            review = repo.get(review_id, for_update=True)
            late = review.overdue(now)
            if late:
                repo.save_decision(expire(review, review.expires_at))
            else:
                decided = decide(review, decision, by=by, at=now, output=output, note=note)
                repo.save_decision(decided)
                if decided.incident_id is not None:
                    tx.append_timeline(_timeline_entry(decided))
        if late:
            raise IllegalTransition(
                f"review {review_id} expired at {review.expires_at.isoformat()}: the app has "
                "delivered its fallback, so it can no longer be decided"
            )
        return decided

    def labels(self, *, feature: str | None = None, limit: int | None = None) -> Iterator[Label]:
        """Decided reviews as labels in id order, read in batches (one transaction each)."""
        after, left = 0, limit
        while left is None or left > 0:
            size = _LABEL_BATCH if left is None else min(left, _LABEL_BATCH)
            with self._state.unit_of_work(read_only=True) as tx:
                batch = ReviewRepository(tx.connection).labelled(
                    after_id=after, feature=feature, limit=size
                )
            for review in batch:
                label = label_of(review)
                if label is not None:
                    yield label
            if len(batch) < size:
                return
            after = batch[-1].review_id or after
            left = None if left is None else left - len(batch)


def _timeline_entry(review: Review) -> TimelineEntry:
    assert review.incident_id is not None
    assert review.decided_by is not None
    assert review.decided_at is not None
    what = {
        ReviewStatus.APPROVED: "approved",
        ReviewStatus.EDITED: "edited and approved",
        ReviewStatus.REJECTED: "rejected",
    }[review.status]
    message = f"held output {what} (review {review.review_id}, {review.feature})"
    if review.note:
        message += f": {review.note}"
    data = {
        "review_id": review.review_id,
        "decision": review.status.value,
        "feature": review.feature,
        "call_id": review.call_id,
    }
    return TimelineEntry(
        review.incident_id, review.decided_at, review.decided_by, "review_decision", message, data
    )


def review_service(instance: Fireline) -> ReviewService:
    """The service of a `fireline.runtime.Fireline` deployment (its state, clock, guards)."""
    return ReviewService(
        instance.state, instance.clock, guard=instance.guard, acting=instance.acting
    )
