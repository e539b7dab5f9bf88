"""The ingest service: validate a whole batch, then write it durably in one transaction."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fireline.ingest.schema import MAX_BATCH_ROWS, parse_calls
from fireline.store.telemetry import TelemetryStore


@dataclass(frozen=True, slots=True)
class IngestResult:
    """How many calls of a batch were new and how many were already stored."""

    accepted: int
    duplicates: int


class IngestService:
    """Validates batches of raw calls and stores them all or none."""

    def __init__(self, telemetry: TelemetryStore) -> None:
        self._telemetry = telemetry

    def ingest_rows(
        self,
        rows: Iterable[tuple[int, Any]],
        *,
        source: str | None = None,
        max_rows: int | None = MAX_BATCH_ROWS,
        row_label: str = "row",
    ) -> IngestResult:
        """Store every row or, if any is invalid, none; raises InvalidInput naming the rows."""
        calls = parse_calls(rows, source=source, max_rows=max_rows, row_label=row_label)
        inserted = self._telemetry.insert_calls(calls)
        return IngestResult(accepted=inserted, duplicates=len(calls) - inserted)
