"""The review queue's domain: held outputs, the status lifecycle, decisions and labels."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from fireline.errors import IllegalTransition, InvalidInput
from fireline.review import TRANSITIONS, Review, ReviewStatus, decide, expire, label_of
from tests.conftest import T0

LATER = T0 + timedelta(seconds=10)


def held(**changes: object) -> Review:
    review = Review.submitted(
        "support-bot",
        "client-1",
        "Can I get a refund?",
        "Yes, within 30 days.",
        at=T0,
        wait_s=60,
        context={"docs": ["refund-policy#3"], "tenant": "acme", "model": "gpt-4o"},
        incident_id=4,
        call_id="call-9",
    )
    return replace(review, review_id=12, **changes)  # type: ignore[arg-type]


def test_a_submitted_review_is_pending_until_its_wait_is_over() -> None:
    review = held()
    assert review.status is ReviewStatus.PENDING
    assert review.expires_at == T0 + timedelta(seconds=60)
    assert review.final_output is None
    assert not review.decided
    assert not review.overdue(T0 + timedelta(seconds=59))
    assert review.overdue(T0 + timedelta(seconds=60))


def test_a_review_needs_a_positive_wait() -> None:
    with pytest.raises(InvalidInput, match="wait_s"):
        Review.submitted("f", "c", "in", "out", at=T0, wait_s=0)


def test_only_a_pending_review_may_change_and_every_other_status_is_final() -> None:
    assert TRANSITIONS[ReviewStatus.PENDING] == {
        ReviewStatus.APPROVED,
        ReviewStatus.EDITED,
        ReviewStatus.REJECTED,
        ReviewStatus.EXPIRED,
    }
    assert set(TRANSITIONS) == set(ReviewStatus)
    assert all(not TRANSITIONS[s] for s in ReviewStatus if s is not ReviewStatus.PENDING)


def test_approving_delivers_the_models_output_and_records_who_and_when() -> None:
    approved = decide(held(), ReviewStatus.APPROVED, by="token:ana", at=LATER, note="fine")
    assert approved.status is ReviewStatus.APPROVED
    assert approved.final_output == "Yes, within 30 days."
    assert (approved.decided_by, approved.decided_at, approved.note) == ("token:ana", LATER, "fine")
    assert approved.decided


def test_editing_delivers_the_correction_and_needs_one() -> None:
    edited = decide(
        held(), ReviewStatus.EDITED, by="token:ana", at=LATER, output="Yes, within 14 days."
    )
    assert edited.final_output == "Yes, within 14 days."
    assert edited.output_text == "Yes, within 30 days."
    with pytest.raises(InvalidInput, match="corrected output"):
        decide(held(), ReviewStatus.EDITED, by="token:ana", at=LATER, output="  ")
    with pytest.raises(InvalidInput, match="only an edit"):
        decide(held(), ReviewStatus.APPROVED, by="token:ana", at=LATER, output="other")


def test_rejecting_delivers_nothing_of_the_models() -> None:
    rejected = decide(held(), ReviewStatus.REJECTED, by="token:ana", at=LATER, note="wrong")
    assert rejected.final_output is None
    assert rejected.note == "wrong"


@pytest.mark.parametrize("first", [ReviewStatus.APPROVED, ReviewStatus.REJECTED])
def test_a_decided_review_cannot_be_decided_again(first: ReviewStatus) -> None:
    decided = decide(held(), first, by="token:ana", at=LATER)  # type: ignore[arg-type]
    with pytest.raises(IllegalTransition, match=f"review 12 is already {first.value}"):
        decide(decided, ReviewStatus.EDITED, by="token:bo", at=LATER, output="x")


def test_a_review_whose_time_is_up_reads_as_expired_and_cannot_be_decided() -> None:
    late = T0 + timedelta(minutes=5)
    review = held()
    assert review.as_of(late).status is ReviewStatus.EXPIRED
    assert review.as_of(LATER) is review
    with pytest.raises(IllegalTransition, match="already expired"):
        decide(review, ReviewStatus.APPROVED, by="token:ana", at=late)


def test_an_expired_review_cannot_expire_again() -> None:
    expired = expire(held(), LATER)
    assert (expired.status, expired.decided_at) == (ReviewStatus.EXPIRED, LATER)
    with pytest.raises(IllegalTransition):
        expire(expired, LATER)


def test_a_resubmission_is_the_same_only_with_the_same_feature_input_and_output() -> None:
    review = held()
    assert review.same_submission(held(context={"other": True}))
    assert not review.same_submission(held(output_text="No."))
    assert not review.same_submission(held(feature="search"))


def test_decisions_map_to_good_corrected_and_bad_labels() -> None:
    approved = decide(held(), ReviewStatus.APPROVED, by="token:ana", at=LATER)
    edited = decide(held(), ReviewStatus.EDITED, by="token:ana", at=LATER, output="14 days.")
    rejected = decide(held(), ReviewStatus.REJECTED, by="token:ana", at=LATER, note="wrong")
    labels = [label_of(r) for r in (approved, edited, rejected)]
    assert [(lb.label, lb.corrected_output) for lb in labels if lb] == [
        ("good", None),
        ("corrected", "14 days."),
        ("bad", None),
    ]


def test_pending_and_expired_reviews_give_no_label() -> None:
    assert label_of(held()) is None
    assert label_of(expire(held(), LATER)) is None


def test_a_label_carries_the_input_the_models_output_and_the_context_as_json() -> None:
    edited = decide(
        held(), ReviewStatus.EDITED, by="token:ana", at=LATER, output="14 days.", note="policy"
    )
    label = label_of(edited)
    assert label is not None
    assert label.to_json() == {
        "review_id": 12,
        "feature": "support-bot",
        "label": "corrected",
        "input": "Can I get a refund?",
        "output": "Yes, within 30 days.",
        "corrected_output": "14 days.",
        "context": {"docs": ["refund-policy#3"], "tenant": "acme", "model": "gpt-4o"},
        "call_id": "call-9",
        "incident_id": 4,
        "decided_by": "token:ana",
        "decided_at": LATER.isoformat(),
        "note": "policy",
    }
