"""Held outputs and people's decisions on them, as pure values: no I/O, no clock of its own."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from fireline.errors import IllegalTransition, InvalidInput, Problem


class ReviewStatus(StrEnum):
    """Where a held output stands; every status but `pending` is final."""

    PENDING = "pending"
    APPROVED = "approved"
    EDITED = "edited"
    REJECTED = "rejected"
    EXPIRED = "expired"


#: What a person may decide on a held output (expiry is the clock's, not a person's).
Decision = Literal[ReviewStatus.APPROVED, ReviewStatus.EDITED, ReviewStatus.REJECTED]

_S = ReviewStatus
#: The statuses each status may move to: a decided or expired review never changes again.
TRANSITIONS: Mapping[ReviewStatus, frozenset[ReviewStatus]] = {
    _S.PENDING: frozenset({_S.APPROVED, _S.EDITED, _S.REJECTED, _S.EXPIRED}),
    _S.APPROVED: frozenset(),
    _S.EDITED: frozenset(),
    _S.REJECTED: frozenset(),
    _S.EXPIRED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class Review:
    """One model output held for a person to approve, edit or reject before it is delivered.

    `client_id` is the app's idempotency key: a resubmission with it is the same review.
    `context` is whatever the app passed along (retrieved documents, user, tenant, model,
    prompt version). `final_output` is the text to deliver once approved or edited.

    >>> from datetime import UTC, datetime
    >>> held = Review.submitted("support-bot", "c1", "Hi?", "Hello!", at=datetime(2026, 1, 1,
    ...     tzinfo=UTC), wait_s=30)
    >>> held.status, held.expires_at.second
    (<ReviewStatus.PENDING: 'pending'>, 30)
    """

    feature: str
    client_id: str
    input_text: str
    output_text: str
    created_at: datetime
    expires_at: datetime
    context: Mapping[str, Any] = field(default_factory=dict)
    status: ReviewStatus = ReviewStatus.PENDING
    incident_id: int | None = None
    call_id: str | None = None
    final_output: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str | None = None
    review_id: int | None = None

    @classmethod
    def submitted(
        cls,
        feature: str,
        client_id: str,
        input_text: str,
        output_text: str,
        *,
        at: datetime,
        wait_s: float,
        context: Mapping[str, Any] | None = None,
        incident_id: int | None = None,
        call_id: str | None = None,
    ) -> Review:
        """A new pending review that expires `wait_s` seconds after `at`."""
        if not wait_s > 0:
            raise InvalidInput([Problem(None, "wait_s", "must be more than 0 seconds")])
        return cls(
            feature=feature,
            client_id=client_id,
            input_text=input_text,
            output_text=output_text,
            created_at=at,
            expires_at=at + timedelta(seconds=wait_s),
            context=dict(context or {}),
            incident_id=incident_id,
            call_id=call_id,
        )

    @property
    def decided(self) -> bool:
        """Whether the review is final (decided or expired)."""
        return not TRANSITIONS[self.status]

    def overdue(self, now: datetime) -> bool:
        """Whether it is still pending although its time is up."""
        return self.status is ReviewStatus.PENDING and now >= self.expires_at

    def as_of(self, now: datetime) -> Review:
        """The review as it reads at `now`: a pending one whose time is up reads as expired."""
        return expire(self, now) if self.overdue(now) else self

    def same_submission(self, other: Review) -> bool:
        """Whether `other` is a retry of this submission (same feature, input and output)."""
        return (self.feature, self.input_text, self.output_text) == (
            other.feature,
            other.input_text,
            other.output_text,
        )


def _move(review: Review, to: ReviewStatus) -> None:
    if to not in TRANSITIONS[review.status]:
        raise IllegalTransition(
            f"review {review.review_id} is already {review.status.value}: it cannot be {to.value}"
        )


def expire(review: Review, at: datetime) -> Review:
    """The pending review expired at `at` (its time is up: the app delivered its fallback)."""
    _move(review, ReviewStatus.EXPIRED)
    return replace(review, status=ReviewStatus.EXPIRED, decided_at=at, final_output=None)


def decide(
    review: Review,
    decision: Decision,
    *,
    by: str,
    at: datetime,
    output: str | None = None,
    note: str | None = None,
) -> Review:
    """The review after a person's decision; an edit needs the corrected `output`.

    A review whose time is up at `at` can no longer be decided: IllegalTransition, as for a
    review already decided.
    """
    status = ReviewStatus(decision)
    _move(review.as_of(at), status)
    if status is ReviewStatus.EDITED:
        if output is None or not output.strip():
            raise InvalidInput([Problem(None, "output", "an edit needs the corrected output")])
        final: str | None = output
    elif output is not None:
        raise InvalidInput([Problem(None, "output", "only an edit takes an output")])
    else:
        final = review.output_text if status is ReviewStatus.APPROVED else None
    return replace(
        review,
        status=status,
        final_output=final,
        decided_by=by,
        decided_at=at,
        note=note,
    )


@dataclass(frozen=True, slots=True)
class Label:
    """A decided review as a training or evaluation label: good, corrected or bad."""

    review_id: int | None
    feature: str
    label: Literal["good", "corrected", "bad"]
    input: str
    output: str
    corrected_output: str | None
    context: Mapping[str, Any]
    call_id: str | None
    incident_id: int | None
    decided_by: str | None
    decided_at: datetime | None
    note: str | None

    def to_json(self) -> dict[str, Any]:
        """The label as one JSON object (one line of labels.jsonl)."""
        return {
            "review_id": self.review_id,
            "feature": self.feature,
            "label": self.label,
            "input": self.input,
            "output": self.output,
            "corrected_output": self.corrected_output,
            "context": dict(self.context),
            "call_id": self.call_id,
            "incident_id": self.incident_id,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "note": self.note,
        }


_LABELS: Mapping[ReviewStatus, Literal["good", "corrected", "bad"]] = {
    ReviewStatus.APPROVED: "good",
    ReviewStatus.EDITED: "corrected",
    ReviewStatus.REJECTED: "bad",
}


def label_of(review: Review) -> Label | None:
    """The label a person's decision gives the model's output; None if nobody decided."""
    label = _LABELS.get(review.status)
    if label is None:
        return None
    return Label(
        review_id=review.review_id,
        feature=review.feature,
        label=label,
        input=review.input_text,
        output=review.output_text,
        corrected_output=review.final_output if review.status is ReviewStatus.EDITED else None,
        context=review.context,
        call_id=review.call_id,
        incident_id=review.incident_id,
        decided_by=review.decided_by,
        decided_at=review.decided_at,
        note=review.note,
    )
