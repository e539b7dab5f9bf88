"""The record of one AI call that the context manager and the decorator fill in."""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal, TypedDict, Unpack, cast
from uuid import uuid4

from fireline.sdk._log import sdk_log

#: What an attribute value may be.
AttributeValue = str | int | float | bool
Sink = Callable[[dict[str, Any]], None]


class CallFields(TypedDict, total=False):
    """The optional descriptive fields of a call, as keyword arguments."""

    provider: str | None
    model: str | None
    model_version: str | None
    prompt_version: str | None
    index_version: str | None
    tenant: str | None
    user: str | None
    trace_id: str | None
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: float | None
    finish_reason: str | None
    input_text: str | None
    output_text: str | None
    attributes: Mapping[str, AttributeValue] | None
    operation: str | None
    request_model: str | None
    response_id: str | None
    session_id: str | None
    span_id: str | None
    retrieved_doc_ids: Sequence[str] | None
    cited_doc_ids: Sequence[str] | None
    eval_scores: Mapping[str, float] | None


_FIELD_NAMES = frozenset(CallFields.__annotations__)

_current: contextvars.ContextVar[CallRecord | None] = contextvars.ContextVar(
    "fireline_sdk_current_call", default=None
)


def new_call_id() -> str:
    """A fresh call id: 32 hex digits of a random UUID."""
    return uuid4().hex


class CallRecord:
    """One AI call being measured: set what you learn (tokens, model, ...) before it ends.

    Time, latency and status are measured; an exception marks the call as an error named
    after the exception's class and propagates unchanged.

    >>> record = CallRecord("support-bot")
    >>> record.output_tokens = 120
    >>> record.set_attribute("cache_hit", True)
    >>> record.attributes
    {'cache_hit': True}
    """

    __slots__ = (
        "_context_token",
        "_sink",
        "_started",
        "_state",
        "attributes",
        "call_id",
        "cited_doc_ids",
        "cost_usd",
        "error_type",
        "eval_scores",
        "feature",
        "finish_reason",
        "index_version",
        "input_text",
        "input_tokens",
        "latency_ms",
        "model",
        "model_version",
        "operation",
        "output_text",
        "output_tokens",
        "prompt_version",
        "provider",
        "request_model",
        "response_id",
        "retrieved_doc_ids",
        "session_id",
        "span_id",
        "status",
        "tenant",
        "time",
        "time_to_first_token_ms",
        "trace_id",
        "user",
    )

    def __init__(
        self, feature: str, sink: Sink | None = None, **fields: Unpack[CallFields]
    ) -> None:
        self.feature = feature
        self.call_id = new_call_id()
        self.time = datetime.now(UTC)
        self.status: Literal["ok", "error"] | None = None
        self.error_type: str | None = None
        self.latency_ms: float | None = None
        self.time_to_first_token_ms: float | None = None
        self.provider: str | None = None
        self.model: str | None = None
        self.model_version: str | None = None
        self.prompt_version: str | None = None
        self.index_version: str | None = None
        self.tenant: str | None = None
        self.user: str | None = None
        self.trace_id: str | None = None
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.cost_usd: float | None = None
        self.finish_reason: str | None = None
        self.input_text: str | None = None
        self.output_text: str | None = None
        self.operation: str | None = None
        self.request_model: str | None = None
        self.response_id: str | None = None
        self.session_id: str | None = None
        self.span_id: str | None = None
        self.retrieved_doc_ids: list[str] = []
        self.cited_doc_ids: list[str] = []
        self.eval_scores: dict[str, float] = {}
        self.attributes: dict[str, AttributeValue] = {}
        self._sink = sink
        self._started = time.perf_counter()
        self._state: Literal["new", "open", "done"] = "new"
        self._context_token: contextvars.Token[CallRecord | None] | None = None
        self.update(**fields)

    def update(self, **fields: Unpack[CallFields]) -> None:
        """Set several fields at once; `attributes` and `eval_scores` are merged, not replaced.

        >>> record = CallRecord("support-bot")
        >>> record.update(model="gpt-4o", output_tokens=12, attributes={"lang": "de"})
        >>> record.model, record.output_tokens, record.attributes
        ('gpt-4o', 12, {'lang': 'de'})
        """
        for key, value in fields.items():
            if key not in _FIELD_NAMES:
                sdk_log.warning("field", "fireline: CallRecord has no field %r; ignored", key)
            elif key in ("attributes", "eval_scores"):
                merged: dict[str, Any] = getattr(self, key)
                merged.update(cast(Mapping[str, Any], value or {}))
            elif key in ("retrieved_doc_ids", "cited_doc_ids"):
                setattr(self, key, list(cast(Sequence[str], value or ())))
            else:
                setattr(self, key, value)

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        """Attach one free attribute (text, number or boolean) to the call."""
        self.attributes[key] = value

    def set_error(self, error_type: str) -> None:
        """Mark the call as failed without raising, e.g. `set_error("content_filter")`."""
        self.status = "error"
        self.error_type = error_type

    def mark_first_token(self) -> None:
        """Record the time to the first token of a streamed answer (the first mark counts)."""
        if self.time_to_first_token_ms is None:
            self.time_to_first_token_ms = (time.perf_counter() - self._started) * 1000

    def start(self) -> CallRecord:
        """Start the clock now (done by `with` and the decorator); returns the record."""
        if self._state != "new":
            sdk_log.warning("twice", "fireline: a CallRecord was started twice; ignored")
            return self
        self._state = "open"
        self.time = datetime.now(UTC)
        self._started = time.perf_counter()
        return self

    def finish(self, error: BaseException | None = None) -> None:
        """End the call: measure latency, take the status from `error`, and queue it once."""
        if self._state == "done":
            return
        self._state = "done"
        if self.latency_ms is None:
            self.latency_ms = (time.perf_counter() - self._started) * 1000
        if error is not None:
            self.status = "error"
            self.error_type = self.error_type or type(error).__name__
        elif self.status is None:
            self.status = "error" if self.error_type else "ok"
        if self._sink is not None:
            self._sink(self.snapshot())

    def snapshot(self) -> dict[str, Any]:
        """The call's fields as a new dict (None fields left out), as the SDK queues it."""
        fields = {key: value for key in _PUBLIC if (value := getattr(self, key)) is not None}
        fields["attributes"] = dict(self.attributes)
        fields["eval_scores"] = dict(self.eval_scores)
        fields["retrieved_doc_ids"] = list(self.retrieved_doc_ids)
        fields["cited_doc_ids"] = list(self.cited_doc_ids)
        return fields

    def __enter__(self) -> CallRecord:
        self.start()
        self._context_token = _current.set(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        token, self._context_token = self._context_token, None
        if token is not None:
            try:
                _current.reset(token)
            except (ValueError, RuntimeError):  # exited in another context than entered (rare)
                _current.set(None)
        try:
            self.finish(exc)
        except Exception:  # pragma: no cover - the sink never raises; belt and braces
            sdk_log.warning("finish", "fireline: could not record a call", exc_info=True)

    def __repr__(self) -> str:
        return (
            f"CallRecord(feature={self.feature!r}, call_id={self.call_id!r}, "
            f"status={self.status!r}, latency_ms={self.latency_ms!r})"
        )


_PUBLIC = tuple(key for key in CallRecord.__slots__ if not key.startswith("_"))


def current_call() -> CallRecord:
    """The call being recorded around this code, or a detached record that is never sent.

    Lets code inside `@client.observe(...)` or `with client.call(...)` fill in fields:

    >>> current_call().output_tokens = 42  # outside any recording: harmless, goes nowhere
    """
    found = _current.get()
    return found if found is not None else CallRecord("detached")


def set_current(record: CallRecord | None) -> contextvars.Token[CallRecord | None]:
    """Make `record` the current call of this context (for the decorator)."""
    return _current.set(record)


def reset_current(token: contextvars.Token[CallRecord | None]) -> None:
    """Undo `set_current`, tolerating a different context (generators finalized elsewhere)."""
    try:
        _current.reset(token)
    except (ValueError, RuntimeError):
        _current.set(None)
