"""The adapter to the telemetry store: the few queries investigation needs (all parameterised;
only constant SQL and detection's own predicates are formatted in)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fireline.investigate.predicates import SignalPredicate, segment_condition, segment_label, why
from fireline.investigate.segments import ValueCount
from fireline.investigate.suspects import Concentration
from fireline.investigate.topics import MAX_CHARS, MAX_INPUTS
from fireline.store.telemetry import TelemetryStore

#: The columns compared between affected and baseline calls.
DIMENSIONS = ("model", "model_version", "prompt_version", "index_version", "tenant", "provider")
_ATTRIBUTE_KEY = "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$"
_PAGE = 5_000
_PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
#: Calls the app answered by the fallback route (level 3) carry the attribute
#: `fallback: true`: the model at fault never saw them, so they are outside every scope.
BY_FALLBACK = "coalesce(json_extract_string(attributes, '$.fallback') IN ('true', '1'), false)"


def naive(when: datetime) -> datetime:
    """A time as the store keeps it: naive UTC."""
    return when.astimezone(UTC).replace(tzinfo=None)


def aware(when: datetime) -> datetime:
    """A time read from the store, as aware UTC."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


@dataclass(frozen=True, slots=True)
class Term:
    """One failure calls may show: a signal's per-call reading within a segment (and, for a
    metric, the baseline tail beyond which a call counts as failing)."""

    signal: SignalPredicate
    segment: dict[str, str]
    threshold: float | None = None

    def failure(self) -> str:
        """SQL true for a call of the segment or not that shows the signal's failure."""
        if self.signal.kind == "rate" or self.signal.metric is None:
            return f"({self.signal.where})"
        side = ">" if self.signal.direction > 0 else "<"
        return f"({self.signal.metric} {side} $threshold)"

    def params(self) -> dict[str, Any]:
        found = dict(self.signal.params)
        if self.signal.kind == "metric":
            found["threshold"] = self.threshold
        return found

    def within(self, prefix: str) -> tuple[str, dict[str, Any]]:
        """SQL true for a call of the segment showing the failure, with its parameters
        renamed under `prefix` (so that several terms can share a query)."""
        condition, params = segment_condition(self.segment)
        sql = f"({condition} AND {self.failure()})"
        params.update(self.params())
        renamed = _PARAMETER.sub(lambda m: f"${prefix}{m.group(1)}", sql)
        return renamed, {f"{prefix}{k}": v for k, v in params.items()}

    @property
    def why(self) -> str:
        found = why(self.signal, self.threshold)
        where = segment_label(self.segment)
        return f"{found} ({where.strip()})" if where else found


@dataclass(frozen=True, slots=True)
class Scope:
    """Calls of one feature (and segment) and how the alerting signal reads on them; `also`
    names the incident's other failures, which count as well (the scope then spans the
    whole feature and each failure keeps its own segment)."""

    feature: str
    signal: SignalPredicate
    segment: dict[str, str]
    threshold: float | None = None
    also: tuple[Term, ...] = ()

    @property
    def primary(self) -> Term:
        return Term(self.signal, self.segment, self.threshold)

    def failure(self) -> str:
        """SQL true for a call that shows the failure."""
        if not self.also:
            return self.primary.failure()
        return "(" + " OR ".join(sql for sql, _ in self._terms()) + ")"

    def _terms(self) -> list[tuple[str, dict[str, Any]]]:
        return [t.within(f"t{i}_") for i, t in enumerate(self.also)] + [
            (f"({segment_condition(self.segment)[0]} AND {self.primary.failure()})", {})
        ]

    def where(self, start: datetime, end: datetime, *, failing: bool) -> tuple[str, dict[str, Any]]:
        """SQL and parameters for the scope's calls in [start, end) (failing ones only); calls
        answered by the fallback route are left out. The parameters may name more than the
        SQL uses (the reader passes on only those it does)."""
        condition, params = segment_condition(self.segment)
        params.update(self.primary.params())
        for _, extra in self._terms():
            params.update(extra)
        params.update({"feature": self.feature, "start": naive(start), "end": naive(end)})
        sql = f"feature = $feature AND time >= $start AND time < $end AND NOT {BY_FALLBACK}"
        if not self.also:
            sql += f" AND {condition}"
        if failing:
            sql += f" AND {self.failure()}"
        return sql, params

    @property
    def why(self) -> str:
        return " or ".join(t.why for t in (self.primary, *self.also))


class TelemetryReader:
    """Reads what investigation weighs from the telemetry store."""

    def __init__(self, telemetry: TelemetryStore) -> None:
        self._telemetry = telemetry

    def _rows(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        return self._telemetry.query_named(sql, params)

    def rate_series(
        self, scope: Scope, start: datetime, end: datetime, bucket_s: int
    ) -> tuple[list[float], list[float]]:
        """Failing calls and calls per bucket of [start, end), empty buckets included."""
        where, params = scope.where(start, end, failing=False)
        sql = (
            "SELECT CAST(floor((epoch(time) - epoch($start)) / $bucket) AS BIGINT) AS b, "  # noqa: S608 - constant SQL
            f"count(*) FILTER (WHERE {scope.failure()}), count(*) FROM calls WHERE {where} "
            "GROUP BY b"
        )
        size = max(int((end - start).total_seconds() // bucket_s), 0)
        hits, trials = [0.0] * size, [0.0] * size
        for b, failed, calls in self._rows(sql, {**params, "bucket": bucket_s}):
            if 0 <= int(b) < size:
                hits[int(b)], trials[int(b)] = float(failed), float(calls)
        return hits, trials

    def metric_series(
        self, scope: Scope, start: datetime, end: datetime, bucket_s: int
    ) -> list[float | None]:
        """The metric's mean per bucket of [start, end) (None where there are no calls)."""
        where, params = scope.where(start, end, failing=False)
        sql = (
            "SELECT CAST(floor((epoch(time) - epoch($start)) / $bucket) AS BIGINT) AS b, "  # noqa: S608 - constant SQL
            f"avg({scope.signal.metric}) FROM calls WHERE {where} AND {scope.signal.where} "
            "GROUP BY b"
        )
        size = max(int((end - start).total_seconds() // bucket_s), 0)
        means: list[float | None] = [None] * size
        for b, mean in self._rows(sql, {**params, "bucket": bucket_s}):
            if 0 <= int(b) < size and mean is not None:
                means[int(b)] = float(mean)
        return means

    def tail(self, scope: Scope, start: datetime, end: datetime, quantile: float) -> float | None:
        """The metric's `quantile` over the scope's calls in [start, end)."""
        where, params = scope.where(start, end, failing=False)
        sql = (
            f"SELECT quantile_cont({scope.signal.metric}, $q) FROM calls "  # noqa: S608 - constant SQL
            f"WHERE {where} AND {scope.signal.where}"
        )
        rows = self._rows(sql, {**params, "q": quantile})
        return float(rows[0][0]) if rows and rows[0][0] is not None else None

    def blast(self, scope: Scope, start: datetime, end: datetime) -> tuple[Any, ...]:
        """Affected calls, distinct users, tenants, first and last time."""
        where, params = scope.where(start, end, failing=True)
        sql = (
            "SELECT count(*), count(DISTINCT user_id), count(DISTINCT tenant), min(time), "  # noqa: S608 - constant SQL
            f"max(time) FROM calls WHERE {where}"
        )
        count, users, tenants, first, last = self._rows(sql, params)[0]
        return (
            int(count),
            int(users),
            int(tenants),
            aware(first) if first else None,
            aware(last) if last else None,
        )

    def affected(
        self, scope: Scope, start: datetime, end: datetime, limit: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """The affected calls in time order, a page at a time (at most `limit`)."""
        where, params = scope.where(start, end, failing=True)
        columns = (
            "call_id, time, tenant, user_id, model, model_version, prompt_version, "
            "index_version, status, error_type"
        )
        names = [c.strip() for c in columns.split(",")]
        after: tuple[datetime, str] | None = None
        left = limit
        while left is None or left > 0:
            page = _PAGE if left is None else min(_PAGE, left)
            keyset = " AND (time, call_id) > ($after_time, $after_id)" if after else ""
            sql = (
                f"SELECT {columns} FROM calls WHERE {where}{keyset} "  # noqa: S608 - constant SQL
                "ORDER BY time, call_id LIMIT $page"
            )
            extra: dict[str, Any] = {"page": page}
            if after:
                extra.update({"after_time": after[0], "after_id": after[1]})
            rows = self._rows(sql, {**params, **extra})
            for row in rows:
                record = dict(zip(names, row, strict=True))
                record["time"] = aware(record["time"])
                record["why"] = scope.why
                yield record
            if len(rows) < page:
                return
            after = (rows[-1][1], str(rows[-1][0]))
            if left is not None:
                left -= len(rows)

    def value_counts(self, where: str, params: dict[str, Any]) -> dict[tuple[str, str], int]:
        """Calls per (dimension, value) among the calls `where` selects."""
        parts = [
            f"SELECT '{d}' AS dimension, {d} AS value, call_id FROM c WHERE {d} IS NOT NULL"  # noqa: S608 - constant names
            for d in DIMENSIONS
        ]
        parts.append(
            "SELECT key, json_extract_string(attributes, '$.\"' || key || '\"'), call_id "
            "FROM (SELECT call_id, attributes, unnest(json_keys(attributes)) AS key FROM c "
            "WHERE attributes IS NOT NULL AND attributes <> '{}') "
            "WHERE regexp_matches(key, $key_pattern) "
            "AND json_type(attributes, '$.\"' || key || '\"') = 'VARCHAR'"
        )
        if self._has_documents():
            parts.append(
                "SELECT 'retrieved_source', d.source, c.call_id FROM "
                "(SELECT call_id, unnest(retrieved_doc_ids) AS doc_id FROM c) c "
                "JOIN documents d ON d.doc_id = c.doc_id WHERE d.source IS NOT NULL"
            )
        sql = (
            f"WITH c AS (SELECT * FROM calls WHERE {where}) "  # noqa: S608 - constant SQL
            "SELECT dimension, value, count(DISTINCT call_id) FROM ("
            + " UNION ALL ".join(parts)
            + ") GROUP BY ALL"
        )
        rows = self._rows(sql, {**params, "key_pattern": _ATTRIBUTE_KEY})
        return {(str(d), str(v)): int(n) for d, v, n in rows}

    def texts(self, where: str, params: dict[str, Any], limit: int) -> list[str]:
        """The start of the input texts of at most `limit` of the calls `where` selects (a
        sample that is the same on every read: in order of a hash of the call id)."""
        sql = (
            f"SELECT substr(input_text, 1, {MAX_CHARS}) FROM calls WHERE {where} "  # noqa: S608 - constant SQL
            "AND input_text IS NOT NULL AND input_text <> '' "
            "ORDER BY hash(call_id), call_id LIMIT $input_limit"
        )
        return [str(row[0]) for row in self._rows(sql, {**params, "input_limit": limit})]

    def inputs(
        self,
        scope: Scope,
        onset: datetime,
        end: datetime,
        baseline: timedelta,
        limit: int = MAX_INPUTS,
    ) -> tuple[list[str], list[str]]:
        """Input texts (a sample of at most `limit` each) of affected calls in [onset, end)
        and of the feature's calls in the `baseline` before the onset."""
        where, params = scope.where(onset, end, failing=True)
        base_where, base = _baseline(scope, onset, baseline)
        return self.texts(where, params, limit), self.texts(base_where, base, limit)

    def counts(
        self, scope: Scope, onset: datetime, end: datetime, baseline: timedelta
    ) -> tuple[list[ValueCount], int, int]:
        """Value counts of affected calls in [onset, end) and of the feature's calls in the
        `baseline` before the onset, and the two totals."""
        where, params = scope.where(onset, end, failing=True)
        affected = self.value_counts(where, params)
        base_where, base = _baseline(scope, onset, baseline)
        before = self.value_counts(base_where, base)
        total = self.blast(scope, onset, end)[0]
        sql = f"SELECT count(*) FROM calls WHERE {base_where}"  # noqa: S608 - constant SQL
        base_total = int(self._rows(sql, base)[0][0])
        found = [ValueCount(d, v, n, before.get((d, v), 0)) for (d, v), n in affected.items()]
        return found, total, base_total

    def concentration(
        self,
        scope: Scope,
        onset: datetime,
        end: datetime,
        baseline: timedelta,
        ran: str,
        version: str,
    ) -> Concentration:
        """Bad calls of [onset, end) and the scope's calls in the `baseline` before the onset,
        and how many of each ran `version` (`ran`: SQL over the parameter `$version`)."""
        where, params = scope.where(onset - baseline, end, failing=False)
        bad = f"time >= $onset AND {scope.failure()}"
        sql = (
            f"SELECT count(*) FILTER (WHERE {bad} AND {ran}), count(*) FILTER (WHERE {bad}), "  # noqa: S608 - constant SQL
            f"count(*) FILTER (WHERE time < $onset AND {ran}), "
            f"count(*) FILTER (WHERE time < $onset) FROM calls WHERE {where}"
        )
        params.update({"onset": naive(onset), "version": version})
        bad_on, bad_calls, base_on, base_calls = self._rows(sql, params)[0]
        return Concentration(int(bad_on), int(bad_calls), int(base_on), int(base_calls))

    def failure_counts(
        self,
        scope: Scope,
        signals: list[SignalPredicate],
        onset: datetime,
        end: datetime,
        baseline: timedelta,
        segment: dict[str, str] | None = None,
    ) -> tuple[tuple[int, int], list[tuple[int, int]]]:
        """Calls of the scope's feature in `segment` (else the scope's) that show none of its
        failures, in [onset, end) and in the `baseline` before it, and for each of `signals`
        how many of those show its failure."""
        _, params = scope.where(onset - baseline, end, failing=False)
        condition, within = segment_condition(scope.segment if segment is None else segment)
        within = {f"in_{k}": v for k, v in within.items()}
        condition = _PARAMETER.sub(lambda m: f"$in_{m.group(1)}", condition)
        params.update(within)
        parts = ["count(*) FILTER (WHERE time >= $onset)", "count(*) FILTER (WHERE time < $onset)"]
        for i, signal in enumerate(signals):
            sql, extra = Term(signal, {}).within(f"c{i}_")
            params.update(extra)
            parts += [
                f"count(*) FILTER (WHERE time >= $onset AND {sql})",
                f"count(*) FILTER (WHERE time < $onset AND {sql})",
            ]
        params["onset"] = naive(onset)
        sql = (
            f"SELECT {', '.join(parts)} FROM calls WHERE feature = $feature "  # noqa: S608 - constant SQL
            f"AND time >= $start AND time < $end AND NOT {BY_FALLBACK} AND {condition} "
            f"AND NOT coalesce({scope.failure()}, false)"
        )
        row = [int(v or 0) for v in self._rows(sql, params)[0]]
        pairs = [(row[i], row[i + 1]) for i in range(2, len(row), 2)]
        return (row[0], row[1]), pairs

    def scanners_and_evals(
        self, feature: str, start: datetime, end: datetime
    ) -> tuple[list[str], list[str]]:
        """The scanners that hit the feature's calls in [start, end), and the evals scored."""
        span = {"feature": feature, "start": naive(start), "end": naive(end)}
        scanners: list[str] = []
        if self._has_table("scan_hits"):
            rows = self._rows(
                "SELECT DISTINCT scanner FROM scan_hits WHERE feature = $feature "
                "AND time >= $start AND time < $end ORDER BY 1",
                span,
            )
            scanners = [str(r[0]) for r in rows]
        rows = self._rows(
            "SELECT DISTINCT unnest(map_keys(eval_scores)) FROM calls WHERE feature = $feature "
            "AND time >= $start AND time < $end AND eval_scores IS NOT NULL ORDER BY 1",
            span,
        )
        return scanners, [str(r[0]) for r in rows if r[0] is not None]

    def _has_documents(self) -> bool:
        return self._has_table("documents")

    def _has_table(self, name: str) -> bool:
        rows = self._rows(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = $name", {"name": name}
        )
        return bool(rows and rows[0][0])


def _baseline(scope: Scope, onset: datetime, baseline: timedelta) -> tuple[str, dict[str, Any]]:
    """SQL and parameters for the feature's calls in the `baseline` before the onset."""
    params = {"feature": scope.feature, "start": naive(onset - baseline), "end": naive(onset)}
    return "feature = $feature AND time >= $start AND time < $end", params
