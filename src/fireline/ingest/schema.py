"""The wire format of a call, and its validation into domain calls with row-and-field errors."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from fireline.clock import as_utc
from fireline.domain.telemetry import AttributeValue, Call, CallStatus
from fireline.errors import InvalidInput, PayloadTooLarge, Problem

T = TypeVar("T")

#: Most calls accepted in one batch; bigger uploads must be split.
MAX_BATCH_ROWS = 10_000
#: Longest prompt or completion text stored for one call.
MAX_TEXT_CHARS = 200_000
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(2999, 12, 31, tzinfo=UTC)


def _plausible_time(value: datetime) -> datetime:
    if not _EARLIEST <= value.replace(tzinfo=value.tzinfo or UTC) <= _LATEST:
        raise ValueError("must be between 1970 and 2999")
    return as_utc(value)


#: An ISO 8601 time or Unix seconds, returned as aware UTC; naive times are taken as UTC.
EventTime = Annotated[datetime, AfterValidator(_plausible_time)]

#: Most problems reported for one rejected batch; the first ones are usually enough.
MAX_PROBLEMS = 20

Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
FeatureName = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$", strict=True)
]
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)]
# Strict numbers: `true` is not a latency of 1 ms and "12" is not 12 tokens.
Amount = Annotated[float, Field(ge=0, strict=True, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0, le=2**63 - 1, strict=True)]
Score = Annotated[float, Field(strict=True, allow_inf_nan=False)]
#: Most retrieved (or cited) document ids kept for one call.
MAX_DOC_IDS = 200


class CallIn(BaseModel):
    """One call as apps send it (JSON object or JSONL line)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    call_id: Name | None = None
    time: EventTime
    feature: FeatureName
    status: Literal["ok", "error"] | None = None
    error_type: Name | None = None
    latency_ms: Amount | None = None
    provider: Name | None = None
    model: Name | None = None
    model_version: Name | None = None
    prompt_version: Name | None = None
    index_version: Name | None = None
    tenant: Name | None = None
    user: Name | None = None
    trace_id: Name | None = None
    input_tokens: Count | None = None
    output_tokens: Count | None = None
    cost_usd: Amount | None = None
    finish_reason: Name | None = None
    input_text: Text | None = None
    output_text: Text | None = None
    attributes: Annotated[dict[Name, AttributeValue], Field(max_length=64)] = Field(
        default_factory=dict
    )
    operation: Name | None = None
    request_model: Name | None = None
    response_id: Name | None = None
    session_id: Name | None = None
    span_id: Name | None = None
    time_to_first_token_ms: Amount | None = None
    retrieved_doc_ids: Annotated[list[Name], Field(max_length=MAX_DOC_IDS)] = Field(
        default_factory=list
    )
    cited_doc_ids: Annotated[list[Name], Field(max_length=MAX_DOC_IDS)] = Field(
        default_factory=list
    )
    eval_scores: Annotated[dict[Name, Score], Field(max_length=32)] = Field(default_factory=dict)

    def to_call(self, raw: Any, position: int = 0) -> Call:
        status = self.status or ("error" if self.error_type else "ok")
        return Call(
            call_id=self.call_id or derived_call_id(raw, position),
            time=as_utc(self.time),
            feature=self.feature,
            status=CallStatus(status),
            error_type=self.error_type,
            latency_ms=self.latency_ms,
            provider=self.provider,
            model=self.model,
            model_version=self.model_version,
            prompt_version=self.prompt_version,
            index_version=self.index_version,
            tenant=self.tenant,
            user=self.user,
            trace_id=self.trace_id,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cost_usd=self.cost_usd,
            finish_reason=self.finish_reason,
            input_text=self.input_text,
            output_text=self.output_text,
            attributes=dict(self.attributes),
            operation=self.operation,
            request_model=self.request_model,
            response_id=self.response_id,
            session_id=self.session_id,
            span_id=self.span_id,
            time_to_first_token_ms=self.time_to_first_token_ms,
            retrieved_doc_ids=tuple(self.retrieved_doc_ids),
            cited_doc_ids=tuple(self.cited_doc_ids),
            eval_scores=dict(self.eval_scores),
        )


def derived_call_id(raw: Any, position: int) -> str:
    """A stable id for a call sent without one, from its content and its place in the batch.

    Resending the same batch or file stores nothing twice, and two identical calls in one
    batch stay two calls. Only `call_id` makes a call unique across different batches.
    """
    return derived_id("c_", raw, position)


def derived_id(prefix: str, raw: Any, position: int) -> str:
    """A stable id for a record sent without one (see `derived_call_id`)."""
    canonical = json.dumps([position, raw], sort_keys=True, separators=(",", ":"), default=str)
    return prefix + hashlib.sha256(canonical.encode()).hexdigest()[:32]


def parse_calls(
    rows: Iterable[tuple[int, Any]],
    *,
    source: str | None = None,
    max_rows: int | None = MAX_BATCH_ROWS,
    row_label: str = "row",
) -> list[Call]:
    """Validate numbered raw rows into calls, or raise InvalidInput naming each row and field.

    Rows are `(row_number, object)` pairs so that JSONL files can report their line numbers.
    `max_rows=None` lifts the batch limit (bulk imports from a file); `row_label` is how
    messages name a row ("line" for files).
    """
    return parse_rows(
        rows,
        lambda raw, number: CallIn.model_validate(raw).to_call(raw, number),
        what="calls",
        source=source,
        max_rows=max_rows,
        row_label=row_label,
    )


def parse_rows(
    rows: Iterable[tuple[int, Any]],
    convert: Callable[[dict[str, Any], int], T],
    *,
    what: str,
    source: str | None = None,
    max_rows: int | None = MAX_BATCH_ROWS,
    row_label: str = "row",
) -> list[T]:
    """Validate numbered raw rows with `convert`; all of them, or InvalidInput naming each
    bad row and field."""
    converted: list[T] = []
    problems: list[Problem] = []
    seen = 0
    for number, raw in rows:
        seen += 1
        if max_rows is not None and seen > max_rows:
            message = f"batch has more than {max_rows} {what}; split it"
            raise PayloadTooLarge([Problem(number, None, message, row_label)], source)
        if not isinstance(raw, dict):
            message = f"expected a JSON object, got {_kind(raw)}"
            problems.append(Problem(number, None, message, row_label))
            continue
        try:
            converted.append(convert(raw, number))
        except ValidationError as error:
            problems.extend(_problems(number, error, row_label))
        if len(problems) >= MAX_PROBLEMS:
            break
    if problems:
        raise InvalidInput(problems, source)
    return converted


def _problems(row: int, error: ValidationError, row_label: str) -> list[Problem]:
    found = []
    for item in error.errors(include_url=False):
        field = ".".join(str(part) for part in item["loc"]) or None
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown field (put free attributes under 'attributes')"
        elif item["type"] == "string_pattern_mismatch" and field == "feature":
            message = "must be 1-128 letters, digits or . _ : / - and start with a letter or digit"
        found.append(Problem(row, field, message, row_label))
    return found


def _kind(value: Any) -> str:
    kinds = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return kinds.get(type(value), "a number")
