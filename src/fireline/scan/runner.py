"""Runs the configured scanners over stored calls and records what they find.

Scanning reads calls after they are stored, so it never holds up ingest: `catch_up` takes
the calls stored since the last round, in batches, in the order they were stored (a cursor
over the store), runs every scanner on each, and marks them scanned with their hits, and
moves the cursor, in one transaction per batch. A crash between two batches loses nothing
(the next round takes the rest) and repeats nothing (a call is marked once).
Ticks call it before detection reads the buckets, so scan hit rates are complete.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fireline.domain.telemetry import Call
from fireline.ingest.records import parse_documents
from fireline.ingest.schema import MAX_BATCH_ROWS
from fireline.ingest.service import IngestResult
from fireline.scan.base import Hit, Scanner
from fireline.scan.config import Scanning
from fireline.scan.documents import DocumentCatalog
from fireline.scan.registry import build_scanner
from fireline.store.scans import ScanStore

log = logging.getLogger(__name__)


@dataclass
class ScanReport:
    """What one round of scanning did."""

    scanned: int = 0  # calls of the sample scanned
    calls_with_hits: int = 0
    hits: Counter[str] = field(default_factory=Counter)  # by "scanner/kind"
    errors: Counter[str] = field(default_factory=Counter)  # by scanner


class ScanService:
    """The deployment's scanners, run over the calls of the telemetry store."""

    def __init__(
        self,
        store: ScanStore,
        settings: Scanning | None = None,
        *,
        scanners: Sequence[Scanner] | None = None,
        batch_size: int = 2_000,
    ) -> None:
        self.store = store
        self.settings = settings or Scanning()
        self.batch_size = batch_size
        self.documents = DocumentCatalog(store.documents, stored=store.has_documents)
        if scanners is None:
            scanners = [
                build_scanner(name, self.settings.settings.get(name), documents=self.documents)
                for name in self.settings.scanner_names()
            ]
        self.scanners = list(scanners)
        self._lock = threading.Lock()  # one round at a time: a call is scanned once

    def scan(self, call: Call) -> list[Hit]:
        """Every hit of every scanner in one call; a scanner that fails is skipped."""
        hits, _ = self._scan(call)
        return hits

    def _scan(self, call: Call) -> tuple[list[Hit], list[str]]:
        hits: list[Hit] = []
        failed: list[str] = []
        for scanner in self.scanners:
            try:
                hits.extend(scanner.scan(call))
            except Exception:
                # A scanner bug must not stop the others or the calls after this one.
                log.exception("scanner %s failed on call %s", scanner.name, call.call_id)
                failed.append(scanner.name)
        return hits, failed

    def scan_calls(
        self, calls: Sequence[Call], report: ScanReport | None = None, *, upto: int | None = None
    ) -> ScanReport:
        """Scan `calls` and record them as scanned, with their hits (and the store's cursor
        moved to `upto`, in the same transaction)."""
        report = report or ScanReport()
        self.documents.prefetch(
            doc_id for call in calls for doc_id in (*call.retrieved_doc_ids, *call.cited_doc_ids)
        )
        found: list[list[Hit]] = []
        for call in calls:
            hits, failed = self._scan(call)
            found.append(hits)
            report.errors.update(failed)
        if upto is not None:
            self.store.record(calls, found, upto=upto, start=self.store.first_cursor)
        report.scanned += len(calls)
        report.calls_with_hits += sum(1 for hits in found if hits)
        report.hits.update(f"{h.scanner}/{h.kind}" for hits in found for h in hits)
        return report

    def catch_up(
        self,
        now: datetime,
        *,
        max_calls: int | None = None,
        every_call_of: Sequence[str] = (),
    ) -> ScanReport:
        """Scan the calls stored since the last round (of the sample, and every call of the
        features in `every_call_of`), in the order they were stored, late ones included; the
        first round starts at calls of the horizon before `now`."""
        report = ScanReport()
        if not self.scanners:
            return report
        since = now - timedelta(seconds=self.settings.horizon_s)
        read = 0
        with self._lock:
            while max_calls is None or read < max_calls:
                limit = (
                    self.batch_size if max_calls is None else min(self.batch_size, max_calls - read)
                )
                calls, upto = self.store.pending(
                    since, sample_rate=self.settings.rate, limit=limit, every_call_of=every_call_of
                )
                if upto is None:
                    break
                self.scan_calls(calls, report, upto=upto)
                read += limit
        return report

    def ingest_document_rows(
        self,
        rows: Iterable[tuple[int, Any]],
        *,
        source: str | None = None,
        max_rows: int | None = MAX_BATCH_ROWS,
        row_label: str = "row",
    ) -> IngestResult:
        """Store every document row (replacing earlier versions of the same ids) or, if any
        is invalid, none; InvalidInput names the rows."""
        documents = parse_documents(rows, source=source, max_rows=max_rows, row_label=row_label)
        stored = self.store.put_documents(documents)
        self.documents.forget()
        return IngestResult(accepted=stored, duplicates=len(documents) - stored)
