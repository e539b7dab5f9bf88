"""The human review queue (containment level 2): held outputs, and people's decisions.

Apps (`app` role) submit held outputs to `/v1/reviews` and poll them; people list them
(viewer), decide on them (responder) and export the decisions as labels (viewer).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from fireline.api.deps import FirelineDep, require
from fireline.api.schemas import ErrorOut
from fireline.domain.access import Permission
from fireline.errors import InvalidInput, Problem
from fireline.review.queue import Review, ReviewStatus
from fireline.review.service import review_service

router = APIRouter(tags=["reviews"])

#: The longest input or output a review holds, in characters.
MAX_TEXT = 100_000
#: The largest context a review holds, in bytes of compact JSON.
MAX_CONTEXT_BYTES = 65_536
#: The longest a review may wait for a person: a week (a review by e-mail, say).
MAX_WAIT_S = 7 * 24 * 3600.0

_FEATURE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$"
_Feature = Annotated[str, StringConstraints(pattern=_FEATURE_PATTERN)]
_ClientId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
_CallId = Annotated[str, StringConstraints(min_length=1, max_length=128)]


def _no_nul(text: str) -> str:
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    return text


_Text = Annotated[str, StringConstraints(max_length=MAX_TEXT), AfterValidator(_no_nul)]
_Output = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_TEXT), AfterValidator(_no_nul)
]
_Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5_000)]
ReviewId = Annotated[int, Path(ge=1, le=2**31 - 1)]
_Errors: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut}, 409: {"model": ErrorOut}}


class ReviewIn(BaseModel):
    """An output held for review, with whatever context a reviewer needs to judge it."""

    model_config = ConfigDict(extra="forbid")

    feature: _Feature
    #: The app's idempotency key: a retry with it returns the same review.
    client_id: _ClientId
    input: _Text
    output: _Output
    #: Retrieved document ids, user, tenant, model, prompt version: whatever helps.
    context: dict[str, Any] = {}
    call_id: _CallId | None = None
    #: How long the app waits for a decision; the review expires then.
    wait_s: Annotated[float, Field(gt=0, le=MAX_WAIT_S)] | None = None

    @field_validator("context")
    @classmethod
    def _small_context(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            size = len(json.dumps(value, separators=(",", ":"), allow_nan=False).encode())
        except ValueError:
            # Not a ValueError: FastAPI would echo the NaN back in its 422 and fail to render it.
            message = "must be JSON: no NaN or Infinity"
            raise InvalidInput([Problem(None, "context", message)]) from None
        if size > MAX_CONTEXT_BYTES:
            raise ValueError(f"context is {size} bytes as JSON; at most {MAX_CONTEXT_BYTES}")
        return value


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: _Note | None = None


class EditIn(BaseModel):
    """The corrected output to deliver instead of the model's."""

    model_config = ConfigDict(extra="forbid")

    output: _Output
    note: _Note | None = None


class RejectIn(BaseModel):
    """Why the output must not be delivered (the app delivers its fallback)."""

    model_config = ConfigDict(extra="forbid")

    note: _Note


class ReviewOut(BaseModel):
    """A review with everything a reviewer needs: the input, output, context, decision."""

    id: int
    feature: str
    client_id: str
    incident_id: int | None
    call_id: str | None
    input: str
    output: str
    context: dict[str, Any]
    status: ReviewStatus
    final_output: str | None
    decided_by: str | None
    decided_at: datetime | None
    note: str | None
    created_at: datetime
    expires_at: datetime

    @classmethod
    def of(cls, review: Review) -> ReviewOut:
        assert review.review_id is not None
        return cls(
            id=review.review_id,
            feature=review.feature,
            client_id=review.client_id,
            incident_id=review.incident_id,
            call_id=review.call_id,
            input=review.input_text,
            output=review.output_text,
            context=dict(review.context),
            status=review.status,
            final_output=review.final_output,
            decided_by=review.decided_by,
            decided_at=review.decided_at,
            note=review.note,
            created_at=review.created_at,
            expires_at=review.expires_at,
        )


class ReviewStateOut(BaseModel):
    """What an app polls: the status and the text to deliver, never the held text itself."""

    id: int
    feature: str
    status: ReviewStatus
    final_output: str | None
    decided_at: datetime | None
    expires_at: datetime

    @classmethod
    def of(cls, review: Review) -> ReviewStateOut:
        assert review.review_id is not None
        return cls(
            id=review.review_id,
            feature=review.feature,
            status=review.status,
            final_output=review.final_output,
            decided_at=review.decided_at,
            expires_at=review.expires_at,
        )


# ---------------------------------------------------------------- apps


@router.post(
    "/v1/reviews",
    response_model=ReviewOut,
    status_code=201,
    dependencies=[require(Permission.INGEST)],
    responses={200: {"model": ReviewOut}, 409: {"model": ErrorOut}},
)
def submit_review(body: ReviewIn, instance: FirelineDep, response: Response) -> ReviewOut:
    """Hold an output for review (201); a retry with the same client_id returns it (200)."""
    review, created = review_service(instance).submit(
        body.feature,
        body.client_id,
        body.input,
        body.output,
        context=body.context,
        call_id=body.call_id,
        wait_s=body.wait_s,
    )
    if not created:
        response.status_code = 200
    return ReviewOut.of(review)


@router.get(
    "/v1/reviews/{review_id}",
    response_model=ReviewStateOut,
    # Polled every second or so by waiting apps: the token is remembered, as for telemetry.
    dependencies=[require(Permission.INGEST, remembered=True)],
    responses={404: {"model": ErrorOut}},
)
def poll_review(review_id: ReviewId, instance: FirelineDep) -> ReviewStateOut:
    """The review's status and, once approved or edited, the text to deliver."""
    return ReviewStateOut.of(review_service(instance).get(review_id))


# ---------------------------------------------------------------- people


@router.get(
    "/api/reviews",
    response_model=list[ReviewOut],
    dependencies=[require(Permission.READ_INCIDENTS)],
)
def list_reviews(
    instance: FirelineDep,
    status: ReviewStatus | Literal["all"] = ReviewStatus.PENDING,
    feature: Annotated[str | None, Query(pattern=_FEATURE_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[ReviewOut]:
    """Reviews of a status (pending by default: the queue, oldest first), or `all`."""
    found = review_service(instance).reviews(
        status=None if status == "all" else ReviewStatus(status),
        feature=feature,
        limit=limit,
        offset=offset,
    )
    return [ReviewOut.of(review) for review in found]


@router.get(
    "/api/reviews/labels.jsonl",
    response_class=StreamingResponse,
    dependencies=[require(Permission.READ_INCIDENTS)],
)
def export_labels(
    instance: FirelineDep,
    feature: Annotated[str | None, Query(pattern=_FEATURE_PATTERN)] = None,
    limit: Annotated[int | None, Query(ge=1, le=10_000_000)] = None,
) -> StreamingResponse:
    """Decided reviews as labels, one JSON object a line: good, corrected or bad."""
    labels = review_service(instance).labels(feature=feature, limit=limit)

    def lines() -> Iterator[str]:
        for label in labels:
            yield json.dumps(label.to_json(), ensure_ascii=False) + "\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@router.get(
    "/api/reviews/{review_id}",
    response_model=ReviewOut,
    dependencies=[require(Permission.READ_INCIDENTS)],
    responses={404: {"model": ErrorOut}},
)
def get_review(review_id: ReviewId, instance: FirelineDep) -> ReviewOut:
    """One review with its full input, output and context."""
    return ReviewOut.of(review_service(instance).get(review_id))


@router.post("/api/reviews/{review_id}/approve", response_model=ReviewOut, responses=_Errors)
def approve(
    review_id: ReviewId,
    instance: FirelineDep,
    caller: Annotated[str, require(Permission.RESPOND)],
    body: ApproveIn | None = None,
) -> ReviewOut:
    """Approve the held output as it is: the app delivers it."""
    note = body.note if body else None
    decided = review_service(instance).decide(
        review_id, ReviewStatus.APPROVED, by=caller, note=note
    )
    return ReviewOut.of(decided)


@router.post("/api/reviews/{review_id}/edit", response_model=ReviewOut, responses=_Errors)
def edit(
    review_id: ReviewId,
    body: EditIn,
    instance: FirelineDep,
    caller: Annotated[str, require(Permission.RESPOND)],
) -> ReviewOut:
    """Approve a corrected output instead: the app delivers the correction."""
    decided = review_service(instance).decide(
        review_id, ReviewStatus.EDITED, by=caller, output=body.output, note=body.note
    )
    return ReviewOut.of(decided)


@router.post("/api/reviews/{review_id}/reject", response_model=ReviewOut, responses=_Errors)
def reject(
    review_id: ReviewId,
    body: RejectIn,
    instance: FirelineDep,
    caller: Annotated[str, require(Permission.RESPOND)],
) -> ReviewOut:
    """Reject the held output: the app delivers its fallback."""
    decided = review_service(instance).decide(
        review_id, ReviewStatus.REJECTED, by=caller, note=body.note
    )
    return ReviewOut.of(decided)
