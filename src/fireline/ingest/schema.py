"""The wire format of a call, and its validation into domain calls with row-and-field errors."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from json.encoder import encode_basestring_ascii
from types import MappingProxyType
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)
from pydantic.fields import FieldInfo

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


#: How far ahead of the server's clock a time may be (clock skew), when a bound is set.
MAX_FUTURE = timedelta(hours=24)
_NOT_AFTER: ContextVar[datetime | None] = ContextVar("fireline_not_after", default=None)


@contextmanager
def not_after(bound: datetime) -> Iterator[None]:
    """Refuse, while validating inside this block, times later than `bound`."""
    token = _NOT_AFTER.set(bound)
    try:
        yield
    finally:
        _NOT_AFTER.reset(token)


def _latest() -> datetime:
    bound = _NOT_AFTER.get()
    return _LATEST if bound is None else min(bound, _LATEST)


def _plausible_time(value: datetime) -> datetime:
    aware = value.replace(tzinfo=value.tzinfo or UTC)
    if not _EARLIEST <= aware <= _LATEST:
        raise ValueError("must be between 1970 and 2999")
    if aware > _latest():
        raise ValueError("is more than 24 hours ahead of the server's clock")
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


def _canonical_json() -> Callable[[Any], str]:
    """What json.dumps(value, sort_keys=True, separators=(",", ":"), default=str) does,
    without making a new C encoder for every value as it does (a sixth of its time)."""
    encoder = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)
    try:
        from _json import make_encoder
    except ImportError:  # pragma: no cover - CPython has it
        return encoder.encode
    fast = make_encoder(
        None,  # no circular check: a cycle is a RecursionError, and encode() reports it
        encoder.default,
        encode_basestring_ascii,
        None,
        encoder.key_separator,
        encoder.item_separator,
        encoder.sort_keys,
        encoder.skipkeys,
        encoder.allow_nan,
    )

    def encode(value: Any) -> str:
        try:
            return "".join(fast(value, 0))
        except Exception:  # refused by the C encoder: encode() raises its own error
            return encoder.encode(value)

    return encode


_CANONICAL = _canonical_json()


def derived_id(prefix: str, raw: Any, position: int) -> str:
    """A stable id for a record sent without one (see `derived_call_id`)."""
    canonical = _CANONICAL([position, raw])
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
    columns = validate_calls(rows, source=source, max_rows=max_rows, row_label=row_label)
    return calls_from_columns(columns)


def calls_from_columns(columns: Mapping[str, Sequence[Any]]) -> list[Call]:
    """The calls that `validate_calls` found, as `CallIn.to_call` makes them."""
    ready = dict(columns)
    ready["status"] = [CallStatus(status) for status in ready["status"]]
    for name in ("attributes", "eval_scores"):
        ready[name] = [dict(values) for values in ready[name]]
    for name in ("retrieved_doc_ids", "cited_doc_ids"):
        ready[name] = [tuple(values) for values in ready[name]]
    return [Call(*values) for values in zip(*(ready[name] for name in _CALL_FIELDS), strict=True)]


def validate_calls(
    rows: Iterable[tuple[int, Any]],
    *,
    source: str | None = None,
    max_rows: int | None = MAX_BATCH_ROWS,
    row_label: str = "row",
) -> dict[str, list[Any]]:
    """What `parse_calls` validates, column by column: each field of `Call` and its value in
    each call (`status` may be text). Raises as parse_calls does.

    A batch is validated a column at a time, and its columns that no row has not at all, so
    no object is made for a row. A batch that is not simply valid goes through `CallIn` row
    by row, so that problems are reported exactly as ever.
    """
    numbered: list[tuple[int, Any]] = []
    failure: Exception | None = None
    try:
        for number, raw in rows:
            numbered.append((number, raw))
            if max_rows is not None and len(numbered) > max_rows:
                break
    except Exception as error:  # raised by `rows` (a file being read): replayed in its place
        failure = error
    if failure is None and (max_rows is None or len(numbered) <= max_rows):
        columns = _by_column(numbered)
        if columns is not None:
            return columns
    calls = parse_rows(
        _replay(numbered, failure),
        lambda raw, number: CallIn.model_validate(raw).to_call(raw, number),
        what="calls",
        source=source,
        max_rows=max_rows,
        row_label=row_label,
    )
    return columns_of(calls)


def columns_of(calls: Sequence[Call]) -> dict[str, list[Any]]:
    """Calls column by column, as `validate_calls` gives them."""
    return {name: [getattr(call, name) for call in calls] for name in _CALL_FIELDS}


def _replay(numbered: list[tuple[int, Any]], error: Exception | None) -> Iterator[tuple[int, Any]]:
    yield from numbered
    if error is not None:
        raise error


_CALL_FIELDS = tuple(field.name for field in dataclasses.fields(Call))
_MISSING = object()
#: What a row without the field has: _MISSING for those it must have.
_ABSENT = {
    name: _MISSING if info.is_required() else info.get_default(call_default_factory=True)
    for name, info in CallIn.model_fields.items()
}
# Fields whose value when absent (None, {}, []) equals no other valid JSON value.
_EMPTY = {name for name, value in _ABSENT.items() if value is None or value in ({}, [])}


def _column_adapter(name: str, info: FieldInfo) -> TypeAdapter[list[Any]]:
    """Validates a list of values as `CallIn` does the field (`time`: see `_by_column`)."""
    annotation: Any = datetime if name == "time" else info.annotation
    if info.metadata and name != "time":
        annotation = Annotated[(annotation, *info.metadata)]
    values: Any = list.__class_getitem__(annotation)  # list[annotation]
    return TypeAdapter(values)


_ADAPTERS = {name: _column_adapter(name, info) for name, info in CallIn.model_fields.items()}


#: Rows validated at a time: the rows of a slice stay in the processor's caches while each
#: of their fields is read.
_SLICE_ROWS = 2048


def _by_column(numbered: list[tuple[int, Any]]) -> dict[str, list[Any]] | None:
    """The batch's columns, validated as `CallIn` and `to_call` would each row; None if any
    row is not valid (or, quicker to tell, not an object or with a field `CallIn` lacks)."""
    columns: dict[str, list[Any]] = {name: [] for name in _ABSENT}
    for start in range(0, len(numbered), _SLICE_ROWS):
        part = _slice_columns(numbered[start : start + _SLICE_ROWS])
        if part is None:
            return None
        for name, values in part.items():
            columns[name] += values
    return columns


def _slice_columns(numbered: list[tuple[int, Any]]) -> dict[str, list[Any]] | None:
    raws = [raw for _, raw in numbered]
    if not all(isinstance(raw, dict) for raw in raws):
        return None
    sent = set().union(*raws)
    if not sent <= _ABSENT.keys():
        return None  # an unknown field
    columns = checked_columns(
        {
            name: [raw.get(name, default) for raw in raws]
            for name, default in _ABSENT.items()
            if name in sent
        },
        len(raws),
    )
    if columns is None:
        return None
    ids = columns["call_id"]
    if None in ids:
        columns["call_id"] = [
            given or derived_call_id(raw, number)
            for given, (number, raw) in zip(ids, numbered, strict=True)
        ]
    return columns


def checked_columns(
    sent: Mapping[str, list[Any]], count: int, *, trusted: Collection[str] = ()
) -> dict[str, list[Any]] | None:
    """`count` calls validated column by column as `CallIn` and `to_call` would each: the
    columns of `validate_calls` (but call ids left out stay None), or None if any call is
    not valid.

    `sent` holds the fields that some call has, each with every call's value or, where a
    call lacks it, `ABSENT[name]`. The `trusted` columns are valid by construction (the
    OTLP mapping's span ids; `time` then holds aware UTC times): they are not validated
    again, but times are still held to the range and to `not_after`.
    """
    columns: dict[str, list[Any]] = {}
    for name, default in _ABSENT.items():
        values = sent.get(name)
        if values is None:
            if default is _MISSING:
                return None
            columns[name] = [default] * count
            continue
        if default is _MISSING and _MISSING in values:
            return None
        if name in trusted or (name in _EMPTY and values.count(default) == len(values)):
            columns[name] = values  # valid as it is (all null or empty, if not trusted)
            continue
        try:
            columns[name] = _ADAPTERS[name].validate_python(values)
        except ValidationError:
            return None
    times = columns["time"]
    if "time" not in trusted:
        try:  # `_plausible_time`, then as_utc: the same instant, so the same range
            times = [
                t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC) for t in times
            ]
        except OverflowError:  # near year 1 or 9999
            return None
    if times and (min(times) < _EARLIEST or max(times) > _latest()):
        return None
    columns["time"] = times
    columns["status"] = [
        status or ("error" if error else "ok")
        for status, error in zip(columns["status"], columns["error_type"], strict=True)
    ]
    return columns


#: What a call without the field has (`MISSING` for the fields every call must have).
ABSENT: Mapping[str, Any] = MappingProxyType(_ABSENT)
MISSING = _MISSING


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
