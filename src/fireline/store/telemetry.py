"""The telemetry store: calls in DuckDB, aggregated in SQL so only small results reach Python."""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from json.encoder import encode_basestring, encode_basestring_ascii
from operator import attrgetter
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from fireline.domain.telemetry import Call, Feedback
from fireline.errors import StoreUnavailable

# Times are stored as naive UTC TIMESTAMPs: TIMESTAMPTZ arithmetic needs DuckDB's ICU
# extension, which must never be fetched at run time.
_CALL_COLUMNS: tuple[tuple[str, str, Any], ...] = (
    ("call_id", "VARCHAR PRIMARY KEY", pa.string()),
    ("time", "TIMESTAMP NOT NULL", pa.timestamp("us")),
    ("feature", "VARCHAR NOT NULL", pa.string()),
    ("status", "VARCHAR NOT NULL", pa.string()),
    ("error_type", "VARCHAR", pa.string()),
    ("latency_ms", "DOUBLE", pa.float64()),
    ("provider", "VARCHAR", pa.string()),
    ("model", "VARCHAR", pa.string()),
    ("model_version", "VARCHAR", pa.string()),
    ("prompt_version", "VARCHAR", pa.string()),
    ("index_version", "VARCHAR", pa.string()),
    ("tenant", "VARCHAR", pa.string()),
    ("user_id", "VARCHAR", pa.string()),
    ("trace_id", "VARCHAR", pa.string()),
    ("input_tokens", "BIGINT", pa.int64()),
    ("output_tokens", "BIGINT", pa.int64()),
    ("cost_usd", "DOUBLE", pa.float64()),
    ("finish_reason", "VARCHAR", pa.string()),
    ("input_text", "VARCHAR", pa.string()),
    ("output_text", "VARCHAR", pa.string()),
    ("attributes", "VARCHAR", pa.string()),
    # version 2: OpenTelemetry GenAI fields and retrieval/eval data
    ("operation", "VARCHAR", pa.string()),
    ("request_model", "VARCHAR", pa.string()),
    ("response_id", "VARCHAR", pa.string()),
    ("session_id", "VARCHAR", pa.string()),
    ("span_id", "VARCHAR", pa.string()),
    ("time_to_first_token_ms", "DOUBLE", pa.float64()),
    ("retrieved_doc_ids", "VARCHAR[]", pa.list_(pa.string())),
    ("cited_doc_ids", "VARCHAR[]", pa.list_(pa.string())),
    ("eval_scores", "MAP(VARCHAR, DOUBLE)", pa.map_(pa.string(), pa.float64())),
)
_ARROW_SCHEMA = pa.schema([(name, arrow_type) for name, _, arrow_type in _CALL_COLUMNS])
_COLUMN_LIST = ", ".join(name for name, _, _ in _CALL_COLUMNS)

#: Columns each schema version added to `calls`; a store is brought up to date on open.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    2: (
        "operation",
        "request_model",
        "response_id",
        "session_id",
        "span_id",
        "time_to_first_token_ms",
        "retrieved_doc_ids",
        "cited_doc_ids",
        "eval_scores",
    ),
}
SCHEMA_VERSION = max(_MIGRATIONS)

_FEEDBACK_COLUMNS: tuple[tuple[str, str, Any], ...] = (
    ("feedback_id", "VARCHAR PRIMARY KEY", pa.string()),
    ("time", "TIMESTAMP NOT NULL", pa.timestamp("us")),
    ("call_id", "VARCHAR NOT NULL", pa.string()),
    ("kind", "VARCHAR NOT NULL", pa.string()),
    ("feature", "VARCHAR", pa.string()),
    ("value", "DOUBLE", pa.float64()),
    ("comment", "VARCHAR", pa.string()),
)
_FEEDBACK_SCHEMA = pa.schema([(name, arrow_type) for name, _, arrow_type in _FEEDBACK_COLUMNS])
_FEEDBACK_LIST = ", ".join(name for name, _, _ in _FEEDBACK_COLUMNS)
#: Write-ahead log size at which DuckDB checkpoints (see `TelemetryStore.__init__`).
_CHECKPOINT_AT = "64MiB"


#: A named parameter of a query ($name).
_PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


class TelemetryStore:
    """Calls in a DuckDB file (or in memory with path ':memory:').

    DuckDB lets one process write a file at a time; a second process gets StoreUnavailable.
    One connection is shared by the threads of this process behind a lock.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        # Commits are durable in the write-ahead log either way; DuckDB folds the log into
        # the file when it passes `checkpoint_threshold`. At its default (16 MiB) checkpoints
        # were over a third of the time spent inserting 600,000 calls in batches of 512. A
        # bigger log costs disk space and, after a crash, replaying it on open (under a
        # second for 64 MiB).
        config: dict[str, str | bool | int | float | list[str]] = {
            "autoload_known_extensions": False,
            "checkpoint_threshold": _CHECKPOINT_AT,
        }
        try:
            self._db = duckdb.connect(self.path, config=config)
        except duckdb.IOException as error:
            raise StoreUnavailable(
                f"cannot open the telemetry store {self.path}: {error}. Is another fireline "
                "process (fireline serve) using this data directory? Send data through its API "
                "instead (fireline ingest --url)."
            ) from None
        self._lock = threading.Lock()
        self._fit_threads()
        self._create_schema()

    def _fit_threads(self) -> None:
        """At most a thread per core this process may use (CPU affinity, as `taskset` sets
        it): DuckDB counts the machine's, and extra threads only take turns on the same."""
        usable = getattr(os, "sched_getaffinity", None)
        if usable is None:
            return
        row = self._db.execute("SELECT current_setting('threads')").fetchone()
        cores = len(usable(0))
        if row is not None and 0 < cores < int(row[0]):
            self._db.execute(f"SET threads = {cores}")

    def _create_schema(self) -> None:
        types = {name: sql_type for name, sql_type, _ in _CALL_COLUMNS}
        with self._lock:
            self._db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER)")
            row = self._db.execute("SELECT max(version) FROM schema_version").fetchone()
            version = row[0] if row and row[0] is not None else None
            feedback = ", ".join(f"{name} {sql_type}" for name, sql_type, _ in _FEEDBACK_COLUMNS)
            self._db.execute(f"CREATE TABLE IF NOT EXISTS feedback ({feedback})")
            if version is None:
                columns = ",\n  ".join(f"{name} {sql_type}" for name, sql_type, _ in _CALL_COLUMNS)
                self._db.execute(f"CREATE TABLE calls (\n  {columns}\n)")
                self._db.execute("INSERT INTO schema_version VALUES (?)", [SCHEMA_VERSION])
                return
            for target in sorted(v for v in _MIGRATIONS if v > version):
                self._db.execute("BEGIN TRANSACTION")
                for name in _MIGRATIONS[target]:
                    self._db.execute(f"ALTER TABLE calls ADD COLUMN {name} {types[name]}")
                self._db.execute("INSERT INTO schema_version VALUES (?)", [target])
                self._db.execute("COMMIT")

    @property
    def schema_version(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def insert_calls(self, calls: Sequence[Call]) -> int:
        """Store the calls not stored yet (by call_id), atomically; return how many were new."""
        return len(self.insert_new_calls(calls))

    def insert_new_calls(self, calls: Sequence[Call]) -> list[Call]:
        """Store the calls not stored yet (by call_id), atomically; return those that were new."""
        return [calls[position] for position in self.insert_new_columns(call_columns(calls))]

    def insert_new_columns(self, columns: Mapping[str, Sequence[Any]]) -> list[int]:
        """Store calls given column by column (see `call_columns`) that are not stored yet (by
        call_id), atomically; return the positions of those that were new.

        Of calls that share an id within the batch, the first is the one stored.
        """
        ids = columns["call_id"]
        # Filled from the end, each id keeps its first position.
        first = dict(zip(reversed(ids), range(len(ids) - 1, -1, -1), strict=True))
        if not first:
            return []
        unique = len(first) == len(ids)
        positions = list(range(len(ids))) if unique else sorted(first.values())
        batch = _to_arrow(columns, None if unique else positions)  # noqa: F841 - read by the SQL
        # One INSERT statement is atomic: the whole batch is stored or none of it. A plain
        # INSERT is twice as fast as ON CONFLICT DO NOTHING; it fails, storing nothing, when
        # some call is already stored (a resent batch), and then the slower one runs.
        with self._lock:
            try:
                # The batch's columns are the table's, in order.
                self._db.execute(f"INSERT INTO calls ({_COLUMN_LIST}) SELECT * FROM batch")  # noqa: S608 - constant column names
                return positions
            except duckdb.ConstraintException:
                rows = self._db.execute(
                    f"INSERT INTO calls ({_COLUMN_LIST}) SELECT {_COLUMN_LIST} FROM batch "  # noqa: S608 - constant column names
                    "ON CONFLICT DO NOTHING RETURNING call_id"
                ).fetchall()
        return [first[str(call_id)] for (call_id,) in rows]

    def insert_new_feedback(self, feedback: Sequence[Feedback]) -> list[Feedback]:
        """Store the feedback not stored yet (by feedback_id), atomically; return the new."""
        unique = {item.feedback_id: item for item in reversed(feedback)}
        if not unique:
            return []
        batch = pa.table(  # noqa: F841 - read by name in the SQL below
            {
                "feedback_id": [f.feedback_id for f in unique.values()],
                "time": [_naive(f.time) for f in unique.values()],
                "call_id": [f.call_id for f in unique.values()],
                "kind": [f.kind.value for f in unique.values()],
                "feature": [f.feature for f in unique.values()],
                "value": [f.value for f in unique.values()],
                "comment": [f.comment for f in unique.values()],
            },
            schema=_FEEDBACK_SCHEMA,
        )
        with self._lock:
            rows = self._db.execute(
                f"INSERT INTO feedback ({_FEEDBACK_LIST}) SELECT {_FEEDBACK_LIST} FROM batch "  # noqa: S608 - constant column names
                "ON CONFLICT DO NOTHING RETURNING feedback_id"
            ).fetchall()
        return [unique[str(feedback_id)] for (feedback_id,) in rows]

    def feedback_for(self, call_id: str) -> list[dict[str, Any]]:
        """The feedback given on one call, oldest first."""
        with self._lock:
            cursor = self._db.execute(
                f"SELECT {_FEEDBACK_LIST} FROM feedback WHERE call_id = ? ORDER BY time",  # noqa: S608 - constant columns
                [call_id],
            )
            names = [column[0] for column in cursor.description or []]
            rows = cursor.fetchall()
        found = [dict(zip(names, row, strict=True)) for row in rows]
        for item in found:
            item["time"] = item["time"].replace(tzinfo=UTC)
        return found

    def _count(self) -> int:
        row = self._db.execute("SELECT count(*) FROM calls").fetchone()
        return int(row[0]) if row else 0

    def count_calls(self, feature: str | None = None) -> int:
        with self._lock:
            if feature is None:
                return self._count()
            row = self._db.execute(
                "SELECT count(*) FROM calls WHERE feature = ?", [feature]
            ).fetchone()
        return int(row[0]) if row else 0

    def query(
        self, sql: str, params: Mapping[str, Any] | Sequence[Any] = ()
    ) -> list[tuple[Any, ...]]:
        """Rows of a read-only query (detection's aggregates); times are naive UTC."""
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def query_named(self, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """`query` with only the named parameters the SQL uses ($name): DuckDB refuses
        others, and queries built from parts each bring their own."""
        used = set(_PARAMETER.findall(sql))
        return self.query(sql, {k: v for k, v in params.items() if k in used})

    @contextmanager
    def writing(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The connection, for other tables of this file (scans, documents): one transaction,
        committed when the block ends and rolled back if it raises; no other thread
        interleaves."""
        with self._lock:
            self._db.execute("BEGIN TRANSACTION")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def get_call(self, call_id: str) -> dict[str, Any] | None:
        with self._lock:
            cursor = self._db.execute(
                f"SELECT {_COLUMN_LIST} FROM calls WHERE call_id = ?",  # noqa: S608 - constant columns
                [call_id],
            )
            row = cursor.fetchone()
            names = [column[0] for column in cursor.description or []]
        if row is None:
            return None
        record = dict(zip(names, row, strict=True))
        record["time"] = record["time"].replace(tzinfo=UTC)
        record["attributes"] = json.loads(record["attributes"] or "{}")
        return record


def _naive(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(tzinfo=None)


#: Each column of `calls` and the `Call` field it stores, in the table's order.
_FIELDS: tuple[tuple[str, str], ...] = tuple(
    (name, "user" if name == "user_id" else name) for name, _, _ in _CALL_COLUMNS
)
#: The fields of `Call` that `call_columns` (and `insert_new_columns`) have.
CALL_FIELDS: tuple[str, ...] = tuple(field for _, field in _FIELDS)


def _reused(encoder: json.JSONEncoder) -> Callable[[Any], str]:
    """`encoder.encode` for dicts, without building a C encoder for every call as it does.

    Anything that the C encoder refuses goes to `encoder.encode`, for its own error.
    """
    try:
        from _json import make_encoder
    except ImportError:  # pragma: no cover - CPython has it
        return encoder.encode
    escape = encode_basestring_ascii if encoder.ensure_ascii else encode_basestring
    fast = make_encoder(
        None,  # no circular check; a cycle is a RecursionError, and encode() reports it
        encoder.default,
        escape,
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
        except Exception:
            return encoder.encode(value)

    return encode


#: What json.dumps(value, sort_keys=True) returns.
_ATTRIBUTES_JSON = _reused(json.JSONEncoder(sort_keys=True))


def call_columns(calls: Sequence[Call]) -> dict[str, list[Any]]:
    """Calls column by column: each field of `Call` (`CALL_FIELDS`) and its values in order."""
    return {field: list(map(attrgetter(field), calls)) for field in CALL_FIELDS}


def _to_arrow(columns: Mapping[str, Sequence[Any]], positions: list[int] | None) -> pa.Table:
    """The calls at `positions` of `columns` (None: all of them) as an Arrow table of the
    `calls` table's columns."""
    arrays: list[pa.Array] = []
    for (name, field), (_, _, arrow_type) in zip(_FIELDS, _CALL_COLUMNS, strict=True):
        column = columns[field]
        values = column if positions is None else [column[i] for i in positions]
        if name == "time" and not all(when.tzinfo is not None for when in values):
            values = [_naive(when) for when in values]  # naive times are local, as ever
        elif name == "attributes":
            values = [
                _ATTRIBUTES_JSON(found if type(found) is dict else dict(found)) if found else "{}"
                for found in values
            ]
        elif name == "eval_scores":
            values = [s if type(s) is dict else list(s.items()) for s in values]
        # Aware times become UTC; CallStatus values are strings; eval_scores dicts are maps.
        arrays.append(pa.array(values, type=arrow_type))
    return pa.Table.from_arrays(arrays, schema=_ARROW_SCHEMA)
