"""Scan results and the document catalog, in tables beside `calls` in the telemetry store.

`scanned` has one row per call the scanners have read (so a rate's denominator is known
and no call is scanned twice), with the names of the scanners that found something;
`scan_hits` one row per hit. Both are keyed to the call's event time and feature, so
detection reads them per bucket and investigation lists the affected calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from fireline.domain.telemetry import Call, CallStatus
from fireline.scan.base import Hit, Part
from fireline.scan.documents import Document
from fireline.store.telemetry import TelemetryStore

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS documents (
        doc_id VARCHAR PRIMARY KEY, tenant VARCHAR, source VARCHAR, published TIMESTAMP
    )""",
    """CREATE TABLE IF NOT EXISTS scanned (
        call_id VARCHAR PRIMARY KEY, time TIMESTAMP NOT NULL, feature VARCHAR NOT NULL,
        scanners VARCHAR[] NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS scan_hits (
        call_id VARCHAR NOT NULL, time TIMESTAMP NOT NULL, feature VARCHAR NOT NULL,
        scanner VARCHAR NOT NULL, kind VARCHAR NOT NULL, part VARCHAR NOT NULL,
        start_pos INTEGER, end_pos INTEGER, score DOUBLE NOT NULL, detail VARCHAR NOT NULL
    )""",
)
_SCANNED_SCHEMA = pa.schema(
    [
        ("call_id", pa.string()),
        ("time", pa.timestamp("us")),
        ("feature", pa.string()),
        ("scanners", pa.list_(pa.string())),
    ]
)
#: The columns of `calls` that scanners read, in `Call`'s names where they differ.
_CALL_FIELDS = (
    "call_id",
    "time",
    "feature",
    "status",
    "tenant",
    "model",
    "model_version",
    "prompt_version",
    "index_version",
    "input_text",
    "output_text",
    "output_tokens",
    "finish_reason",
    "retrieved_doc_ids",
    "cited_doc_ids",
)


@dataclass(frozen=True, slots=True)
class StoredHit:
    """A hit as stored: the call it was found in, and the hit."""

    call_id: str
    time: datetime
    feature: str
    hit: Hit


class ScanStore:
    """Reads calls to scan and writes what the scanners found, in the telemetry store."""

    def __init__(self, telemetry: TelemetryStore) -> None:
        self.telemetry = telemetry
        with telemetry.writing() as db:
            for statement in _SCHEMA:
                db.execute(statement)

    # -- documents -------------------------------------------------------------------------

    def put_documents(self, documents: Sequence[Document]) -> int:
        """Store documents, replacing earlier versions of the same ids; return how many."""
        unique = {document.doc_id: document for document in documents}
        rows = [
            (d.doc_id, d.tenant, d.source, _naive(d.published) if d.published else None)
            for d in unique.values()
        ]
        if rows:
            with self.telemetry.writing() as db:
                db.executemany("INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?)", rows)
        return len(rows)

    def documents(self, doc_ids: list[str]) -> list[Document]:
        """The stored documents among `doc_ids`."""
        rows = self.telemetry.query(
            "SELECT doc_id, tenant, source, published FROM documents "
            "WHERE list_contains($ids, doc_id)",
            {"ids": doc_ids},
        )
        return [
            Document(
                str(doc_id), tenant, source, published.replace(tzinfo=UTC) if published else None
            )
            for doc_id, tenant, source, published in rows
        ]

    # -- calls to scan ---------------------------------------------------------------------

    def pending(
        self, since: datetime, until: datetime, *, sample_rate: float = 1.0, limit: int = 2_000
    ) -> list[Call]:
        """Calls in [since, until) not scanned yet, oldest first; with `sample_rate` below 1,
        only that share of calls is ever offered (the same ones every time)."""
        sql = f"""
            SELECT {", ".join(_CALL_FIELDS)} FROM calls c
            WHERE c.time >= $since AND c.time < $until
              AND hash(c.call_id) % 1000000 < $cut
              AND NOT EXISTS (
                  SELECT 1 FROM scanned s
                  WHERE s.call_id = c.call_id AND s.time >= $since AND s.time < $until
              )
            ORDER BY c.time, c.call_id LIMIT $limit
        """  # noqa: S608 - constant column names
        params = {"since": _naive(since), "until": _naive(until), "limit": limit}
        params["cut"] = round(sample_rate * 1_000_000)
        return [_call(row) for row in self.telemetry.query(sql, params)]

    def record(self, calls: Sequence[Call], hits: Sequence[Sequence[Hit]]) -> int:
        """Mark `calls` scanned, with their hits (`hits[i]` are those of `calls[i]`), in one
        transaction; calls already marked are left as they were. Returns how many were new."""
        if not calls:
            return 0
        batch = pa.table(  # noqa: F841 - read by name in the SQL below
            {
                "call_id": [c.call_id for c in calls],
                "time": [_naive(c.time) for c in calls],
                "feature": [c.feature for c in calls],
                "scanners": [sorted({h.scanner for h in found}) for found in hits],
            },
            schema=_SCANNED_SCHEMA,
        )
        with self.telemetry.writing() as db:
            new = {
                str(row[0])
                for row in db.execute(
                    "INSERT INTO scanned SELECT * FROM batch ON CONFLICT DO NOTHING "
                    "RETURNING call_id"
                ).fetchall()
            }
            hit_rows = [
                (
                    c.call_id,
                    _naive(c.time),
                    c.feature,
                    h.scanner,
                    h.kind,
                    h.part.value,
                    h.start,
                    h.end,
                    float(h.score),
                    h.detail,
                )
                for c, found in zip(calls, hits, strict=True)
                if c.call_id in new
                for h in found
            ]
            if hit_rows:
                db.executemany(
                    "INSERT INTO scan_hits VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", hit_rows
                )
        return len(new)

    # -- reading hits ----------------------------------------------------------------------

    def hits_of(self, call_id: str) -> list[Hit]:
        """The hits found in one call."""
        rows = self.telemetry.query(
            "SELECT scanner, kind, part, start_pos, end_pos, score, detail FROM scan_hits "
            "WHERE call_id = ? ORDER BY scanner, kind, start_pos NULLS FIRST, detail",
            [call_id],
        )
        return [_hit(row) for row in rows]

    def is_scanned(self, call_id: str) -> bool:
        rows = self.telemetry.query("SELECT 1 FROM scanned WHERE call_id = ?", [call_id])
        return bool(rows)

    def list_hits(
        self,
        *,
        feature: str | None = None,
        scanner: str | None = None,
        kind: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[StoredHit]:
        """Hits, newest first, filtered by feature, scanner, kind and event time."""
        where: list[str] = ["TRUE"]
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        for column, value in (("feature", feature), ("scanner", scanner), ("kind", kind)):
            if value is not None:
                where.append(f"{column} = ${column}")
                params[column] = value
        if since is not None:
            where.append("time >= $since")
            params["since"] = _naive(since)
        if until is not None:
            where.append("time < $until")
            params["until"] = _naive(until)
        sql = (
            "SELECT call_id, time, feature, scanner, kind, part, start_pos, end_pos, score, "  # noqa: S608 - constant SQL
            f"detail FROM scan_hits WHERE {' AND '.join(where)} "
            "ORDER BY time DESC, call_id, scanner, kind LIMIT $limit OFFSET $offset"
        )
        return [
            StoredHit(str(row[0]), row[1].replace(tzinfo=UTC), str(row[2]), _hit(row[3:]))
            for row in self.telemetry.query(sql, params)
        ]

    def counts(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> dict[tuple[str, str, str], int]:
        """Calls with hits by (feature, scanner, kind) in [since, until)."""
        params: dict[str, Any] = {
            "since": _naive(since) if since else datetime(1970, 1, 1),
            "until": _naive(until) if until else datetime(9999, 1, 1),
        }
        rows = self.telemetry.query(
            "SELECT feature, scanner, kind, count(DISTINCT call_id) FROM scan_hits "
            "WHERE time >= $since AND time < $until GROUP BY ALL ORDER BY ALL",
            params,
        )
        return {(str(f), str(s), str(k)): int(n) for f, s, k, n in rows}


def _call(row: Iterable[Any]) -> Call:
    found = dict(zip(_CALL_FIELDS, row, strict=True))
    found["time"] = found["time"].replace(tzinfo=UTC)
    found["status"] = CallStatus(found["status"])
    found["retrieved_doc_ids"] = tuple(found["retrieved_doc_ids"] or ())
    found["cited_doc_ids"] = tuple(found["cited_doc_ids"] or ())
    return Call(**found)


def _hit(row: Sequence[Any]) -> Hit:
    scanner, kind, part, start, end, score, detail = row
    return Hit(str(scanner), str(kind), Part(part), start, end, float(score), str(detail))


def _naive(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when
