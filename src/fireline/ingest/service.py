"""The ingest service: validate a whole batch, then write it durably in one transaction."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from fireline.clock import Clock
from fireline.domain.telemetry import Call
from fireline.ingest.gcpause import collector_paused
from fireline.ingest.prepare import CallPreparer
from fireline.ingest.records import parse_changes, parse_feedback
from fireline.ingest.schema import (
    MAX_BATCH_ROWS,
    MAX_FUTURE,
    calls_from_columns,
    not_after,
    parse_calls,
    validate_calls,
)
from fireline.store.state import StateStore
from fireline.store.telemetry import TelemetryStore, call_columns


def _unchanged(call: Call) -> Call:
    return call


class RememberedWatermark:
    """The watermark as `read` gives it, read again once `seconds` have passed since (on a
    monotonic clock) or once `forget` is called; with `seconds` 0, read every time."""

    def __init__(self, read: Callable[[], datetime | None], seconds: float = 0.0) -> None:
        self.read = read
        self.seconds = seconds
        self._lock = threading.Lock()
        self._value: datetime | None = None
        self._until = 0.0  # when the value must be read again (monotonic seconds)
        self._moves = 0  # calls to `forget`: a value read across one is not kept

    def __call__(self) -> datetime | None:
        if self.seconds <= 0:
            return self.read()
        with self._lock:
            if time.monotonic() < self._until:
                return self._value
            moves = self._moves
        value = self.read()  # outside the lock: a slow store holds up no other batch
        with self._lock:
            if moves == self._moves:  # no tick moved it while it was being read
                self._value, self._until = value, time.monotonic() + self.seconds
        return value

    def forget(self) -> None:
        with self._lock:
            self._moves += 1
            self._until = 0.0


@dataclass(frozen=True, slots=True)
class IngestResult:
    """How many calls of a batch were new, already stored, or too late for detection.

    `late` calls are stored like any other but are older than the buckets detection has
    already evaluated, so no detector will count them.
    """

    accepted: int
    duplicates: int
    late: int = 0


class IngestService:
    """Validates batches of raw calls and stores them all or none."""

    def __init__(
        self,
        telemetry: TelemetryStore,
        *,
        watermark: Callable[[], datetime | None] = lambda: None,
        prepare: Callable[[Call], Call] = _unchanged,
        redact_text: Callable[[str], str | None] = lambda text: text,
        state: StateStore | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._telemetry = telemetry
        self._clock = clock
        self._prepare = prepare
        self._redact_text = redact_text
        self._state = state
        # Batches are prepared and stored column by column, without a second object per call,
        # unless `prepare` is a function that only knows calls.
        self._by_columns = prepare is _unchanged or isinstance(prepare, CallPreparer)
        self._remembered = RememberedWatermark(watermark)

    def ingest_rows(
        self,
        rows: Iterable[tuple[int, Any]],
        *,
        source: str | None = None,
        max_rows: int | None = MAX_BATCH_ROWS,
        row_label: str = "row",
    ) -> IngestResult:
        """Store every row or, if any is invalid, none; raises InvalidInput naming the rows."""
        with self.bounded():
            if not self._by_columns:
                calls = parse_calls(rows, source=source, max_rows=max_rows, row_label=row_label)
                return self.ingest_calls(calls)
            with collector_paused():  # a batch is many objects, all alive until it is stored
                columns = validate_calls(
                    rows, source=source, max_rows=max_rows, row_label=row_label
                )
                result = self._store(columns)
                # Freed while paused, the batch's objects are not counted as new when the
                # collector resumes: else its first collection would go through them all.
                del columns
            return result

    def remember_watermark(self, seconds: float) -> None:
        """Reuse the watermark read for a batch for up to `seconds` (0, the default: read
        it for every batch), for a process whose detection ticks call `watermark_moved`.

        The watermark only counts `late` calls, and only a tick moves it; reading it from
        the state store is most of a small batch's fixed cost in a busy server. A tick
        that does not say so is seen within `seconds` at the latest.
        """
        self._remembered.seconds = seconds

    def watermark_moved(self) -> None:
        """A tick has moved the watermark: the next batch reads it again."""
        self._remembered.forget()

    def bounded(self) -> AbstractContextManager[None]:
        """Validation inside refuses times more than a day ahead of the clock (if any)."""
        if self._clock is None:
            return nullcontext()
        return not_after(self._clock.now() + MAX_FUTURE)

    def ingest_calls(self, calls: Sequence[Call]) -> IngestResult:
        """Store calls that are already valid domain objects (the SDK, drills)."""
        if self._by_columns:
            return self._store(call_columns(calls))
        # Read before writing, so a failure here cannot follow a batch already stored.
        watermark = self._remembered()
        new = self._telemetry.insert_new_calls([self._prepare(call) for call in calls])
        late = 0 if watermark is None else sum(call.time < watermark for call in new)
        return IngestResult(accepted=len(new), duplicates=len(calls) - len(new), late=late)

    def ingest_columns(self, columns: Mapping[str, list[Any]]) -> IngestResult:
        """Store valid calls given column by column (`validate_calls`, `SpanBatch.columns`),
        as `ingest_calls` stores calls; `columns` is left as it is."""
        if not self._by_columns:
            return self.ingest_calls(calls_from_columns(columns))
        return self._store(dict(columns))

    def _store(self, columns: dict[str, list[Any]]) -> IngestResult:
        """Prepare and store a batch given column by column, as `ingest_calls` does calls."""
        watermark = self._remembered()  # before writing, as in `ingest_calls`
        if isinstance(self._prepare, CallPreparer):
            self._prepare.prepare_columns(columns)
        new = self._telemetry.insert_new_columns(columns)
        times = columns["time"]
        late = 0 if watermark is None else sum(times[i] < watermark for i in new)
        return IngestResult(accepted=len(new), duplicates=len(times) - len(new), late=late)

    def ingest_feedback_rows(
        self,
        rows: Iterable[tuple[int, Any]],
        *,
        source: str | None = None,
        max_rows: int | None = MAX_BATCH_ROWS,
        row_label: str = "row",
    ) -> IngestResult:
        """Store every feedback row or, if any is invalid, none."""
        with self.bounded():
            items = parse_feedback(rows, source=source, max_rows=max_rows, row_label=row_label)
            ready = [
                replace(item, comment=self._redact_text(item.comment)) if item.comment else item
                for item in items
            ]
            new = self._telemetry.insert_new_feedback(ready)
            return IngestResult(accepted=len(new), duplicates=len(items) - len(new))

    def ingest_change_rows(
        self,
        rows: Iterable[tuple[int, Any]],
        *,
        source: str | None = None,
        max_rows: int | None = MAX_BATCH_ROWS,
        row_label: str = "row",
    ) -> IngestResult:
        """Store every change row or, if any is invalid, none."""
        with self.bounded():
            if self._state is None:
                raise RuntimeError("changes need the state store")
            items = parse_changes(rows, source=source, max_rows=max_rows, row_label=row_label)
            with self._state.unit_of_work() as tx:
                new = tx.add_changes(items)
            return IngestResult(accepted=len(new), duplicates=len(items) - len(new))
