"""Scan results and the document catalog, in tables beside `calls` in the telemetry store.

`scan_cursor` says how far scanning has read `calls` (by rowid: calls are only appended, so
rowids follow the order they were stored in); `scan_hits` has one row per hit, keyed to the
call's event time and feature, so detection reads them per bucket and investigation lists
the affected calls. A call is scanned once its rowid is behind the cursor, if it is in the
sample (`in_sample`, a hash of its id); hits and the cursor move in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fireline.domain.telemetry import Call, CallStatus
from fireline.scan.base import Hit, Part
from fireline.scan.documents import Document
from fireline.store.telemetry import TelemetryStore

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS documents (
        doc_id VARCHAR PRIMARY KEY, tenant VARCHAR, source VARCHAR, published TIMESTAMP
    )""",
    # How far scanning has read `calls`, by rowid: calls are only ever appended, so rowids
    # grow in the order calls were stored, late ones included.
    "CREATE TABLE IF NOT EXISTS scan_cursor (name VARCHAR PRIMARY KEY, last_rowid BIGINT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS scan_hits (
        call_id VARCHAR NOT NULL, time TIMESTAMP NOT NULL, feature VARCHAR NOT NULL,
        scanner VARCHAR NOT NULL, kind VARCHAR NOT NULL, part VARCHAR NOT NULL,
        start_pos INTEGER, end_pos INTEGER, score DOUBLE NOT NULL, detail VARCHAR NOT NULL
    )""",
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


def sample_cut(rate: float) -> int:
    """The `in_sample` cut for a share of calls."""
    return round(rate * 1_000_000)


def in_sample(cut: str, column: str = "call_id") -> str:
    """SQL that is true for the calls of the sample: the same calls every time, whichever
    query asks (the scanner's and detection's)."""
    return f"(hash({column}) % 1000000 < {cut})"


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
        self._cursor: int | None = None  # as stored; only `record` moves it
        #: Where the first round began, until it is recorded.
        self.first_cursor: int | None = None
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

    def has_documents(self) -> bool:
        """Whether any document is stored."""
        return bool(self.telemetry.query("SELECT EXISTS (SELECT 1 FROM documents)")[0][0])

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
        self,
        since: datetime,
        *,
        sample_rate: float = 1.0,
        limit: int = 2_000,
        every_call_of: Sequence[str] = (),
    ) -> tuple[list[Call], int | None]:
        """The next calls to scan, in the order they were stored, and the rowid the cursor
        moves to once they are recorded (None: nothing new).

        Of the next `limit` stored calls, only those of the sample are returned (the same
        calls whenever asked), and every call of the features in `every_call_of` (contained
        ones: monitoring tightened; detection's rates stay on the sample). The first time,
        scanning starts at calls of event time `since` or later, so a store full of history
        is not scanned from its beginning.
        """
        cursor = self.cursor(since)
        self.first_cursor = cursor if self.stored_cursor() is None else None
        sql = f"""
            SELECT rowid, {in_sample("$cut")} OR list_contains($every, feature) AS sampled,
                   {", ".join(_CALL_FIELDS)}
            FROM calls
            WHERE rowid > $cursor ORDER BY rowid LIMIT $limit
        """  # noqa: S608 - constant column names
        params = {
            "cursor": cursor,
            "limit": limit,
            "cut": sample_cut(sample_rate),
            "every": list(every_call_of),
        }
        rows = self.telemetry.query(sql, params)
        if not rows:
            return [], None
        return [_call(row[2:]) for row in rows if row[1]], int(rows[-1][0])

    def stored_cursor(self) -> int | None:
        """The rowid of the last call scanning has read, None before the first round."""
        if self._cursor is None:
            row = self.telemetry.query("SELECT last_rowid FROM scan_cursor WHERE name = 'calls'")
            self._cursor = int(row[0][0]) if row else None
        return self._cursor

    def _start(self) -> int:
        """The rowid before the first call scanning read: older calls were never scanned."""
        row = self.telemetry.query("SELECT last_rowid FROM scan_cursor WHERE name = 'start'")
        return int(row[0][0]) if row else -1

    def cursor(self, since: datetime) -> int:
        """The rowid of the last call read; before the first round, just before the calls of
        event time `since` or later."""
        stored = self.stored_cursor()
        if stored is not None:
            return stored
        first = self.telemetry.query(
            "SELECT min(rowid) FROM calls WHERE time >= $since", {"since": _naive(since)}
        )
        start = first[0][0] if first and first[0][0] is not None else None
        if start is None:
            last = self.telemetry.query("SELECT max(rowid) FROM calls")
            return int(last[0][0]) if last and last[0][0] is not None else -1
        return int(start) - 1

    def record(
        self,
        calls: Sequence[Call],
        hits: Sequence[Sequence[Hit]],
        *,
        upto: int,
        start: int | None = None,
    ) -> None:
        """Store the hits of `calls` (`hits[i]` are those of `calls[i]`) and move the cursor
        to `upto`, in one transaction: each call's hits are stored once. `start` is where
        the first round began (the cursor `pending` started from)."""
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
            for h in found
        ]
        with self.telemetry.writing() as db:
            if hit_rows:
                db.executemany(
                    "INSERT INTO scan_hits VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", hit_rows
                )
            if self._cursor is None and start is not None:
                db.execute(
                    "INSERT INTO scan_cursor VALUES ('start', ?) ON CONFLICT DO NOTHING", [start]
                )
            db.execute("INSERT OR REPLACE INTO scan_cursor VALUES ('calls', ?)", [upto])
        self._cursor = upto

    # -- reading hits ----------------------------------------------------------------------

    def hits_of(self, call_id: str) -> list[Hit]:
        """The hits found in one call."""
        rows = self.telemetry.query(
            "SELECT scanner, kind, part, start_pos, end_pos, score, detail FROM scan_hits "
            "WHERE call_id = ? ORDER BY scanner, kind, start_pos NULLS FIRST, detail",
            [call_id],
        )
        return [_hit(row) for row in rows]

    def is_scanned(self, call_id: str, sample_rate: float = 1.0) -> bool:
        """Whether the call is stored, behind the cursor, and of the sample."""
        cursor = self.stored_cursor()
        if cursor is None:
            return False
        rows = self.telemetry.query(
            f"SELECT 1 FROM calls WHERE call_id = $id AND rowid > $start "  # noqa: S608 - constant SQL
            f"AND rowid <= $cursor AND {in_sample('$cut')}",
            {
                "id": call_id,
                "start": self._start(),
                "cursor": cursor,
                "cut": sample_cut(sample_rate),
            },
        )
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
