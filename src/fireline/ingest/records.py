"""The wire formats of feedback and changes, validated like calls (row and field in errors)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from fireline.domain.telemetry import Change, ChangeKind, Feedback, FeedbackKind
from fireline.ingest.schema import (
    MAX_BATCH_ROWS,
    EventTime,
    FeatureName,
    Name,
    derived_id,
    parse_rows,
)
from fireline.scan.documents import Document

Comment = Annotated[str, StringConstraints(max_length=10_000)]


class FeedbackIn(BaseModel):
    """A user's signal about one call."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    feedback_id: Name | None = None
    call_id: Name
    time: EventTime
    kind: FeedbackKind
    feature: FeatureName | None = None
    value: Annotated[float, Field(strict=True, allow_inf_nan=False)] | None = None
    comment: Comment | None = None

    def to_feedback(self, raw: Any, position: int) -> Feedback:
        return Feedback(
            feedback_id=self.feedback_id or derived_id("f_", raw, position),
            call_id=self.call_id,
            time=self.time,
            kind=self.kind,
            feature=self.feature,
            value=self.value,
            comment=self.comment,
        )


class ChangeIn(BaseModel):
    """A deploy (model, prompt, index, flag, config) or an upstream status change."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    change_id: Name | None = None
    time: EventTime
    kind: ChangeKind
    version: Name
    feature: FeatureName | None = None
    previous_version: Name | None = None
    author: Name | None = None
    description: Comment | None = None

    def to_change(self, raw: Any, position: int) -> Change:
        return Change(
            change_id=self.change_id or derived_id("d_", raw, position),
            time=self.time,
            kind=self.kind,
            version=self.version,
            feature=self.feature,
            previous_version=self.previous_version,
            author=self.author,
            description=self.description,
        )


class DocumentIn(BaseModel):
    """A document of the knowledge base: who owns it, where it came from, when published."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    doc_id: Name
    tenant: Name | None = None
    source: Annotated[str, StringConstraints(max_length=2_000)] | None = None
    published: EventTime | None = None

    def to_document(self) -> Document:
        return Document(self.doc_id, self.tenant, self.source, self.published)


def parse_documents(
    rows: Iterable[tuple[int, Any]],
    *,
    source: str | None = None,
    max_rows: int | None = MAX_BATCH_ROWS,
    row_label: str = "row",
) -> list[Document]:
    """Validate numbered raw rows into documents, or raise InvalidInput naming row and field."""
    return parse_rows(
        rows,
        lambda raw, n: DocumentIn.model_validate(raw).to_document(),
        what="documents",
        source=source,
        max_rows=max_rows,
        row_label=row_label,
    )


def parse_feedback(
    rows: Iterable[tuple[int, Any]],
    *,
    source: str | None = None,
    max_rows: int | None = MAX_BATCH_ROWS,
    row_label: str = "row",
) -> list[Feedback]:
    """Validate numbered raw rows into feedback, or raise InvalidInput naming row and field."""
    return parse_rows(
        rows,
        lambda raw, n: FeedbackIn.model_validate(raw).to_feedback(raw, n),
        what="feedback",
        source=source,
        max_rows=max_rows,
        row_label=row_label,
    )


def parse_changes(
    rows: Iterable[tuple[int, Any]],
    *,
    source: str | None = None,
    max_rows: int | None = MAX_BATCH_ROWS,
    row_label: str = "row",
) -> list[Change]:
    """Validate numbered raw rows into changes, or raise InvalidInput naming row and field."""
    return parse_rows(
        rows,
        lambda raw, n: ChangeIn.model_validate(raw).to_change(raw, n),
        what="changes",
        source=source,
        max_rows=max_rows,
        row_label=row_label,
    )
