"""Signals as window aggregates computed inside the telemetry store, per feature and segment.

One tick reads the calls (and feedback) of the buckets that closed since the last one, in a
few SQL statements that aggregate per feature, bucket and segment (each call counted for the
whole feature and for each segment it belongs to); only the aggregates reach Python.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fireline.detect.base import Window
from fireline.detect.catalog import ERROR_TYPE_RATE, EVAL_FAIL_RATE, EVAL_SCORE, SCAN_RATE
from fireline.detect.config import Detection
from fireline.store.scans import in_sample, sample_cut
from fireline.store.telemetry import TelemetryStore

#: "" is the whole feature; a segment is "dimension=value".
WHOLE = ""


@dataclass(frozen=True, slots=True, order=True)
class SeriesKey:
    """Which series a window belongs to."""

    feature: str
    signal: str
    segment: str = WHOLE

    @property
    def segment_dict(self) -> dict[str, str]:
        if not self.segment:
            return {}
        dimension, _, value = self.segment.partition("=")
        return {dimension: value}


Series = dict[SeriesKey, dict[datetime, Window]]

_REFUSALS = "('content_filter', 'refusal', 'refused')"
_EMPTY = "status = 'ok' AND (output_tokens = 0 OR output_text = '')"
#: For sample call ids on alerts: which calls show each signal, and the worst first.
_SAMPLE_BY: dict[str, tuple[str, str]] = {
    "error_rate": ("status = 'error'", "time"),
    "error_rate.": ("status = 'error' AND coalesce(error_type, 'unknown') = $kind", "time"),
    "error_types": ("status = 'error'", "time"),
    "refusal_rate": (f"finish_reason IN {_REFUSALS}", "time"),
    "finish_reasons": (f"finish_reason IN {_REFUSALS} OR finish_reason = 'length'", "time"),
    "empty_rate": (_EMPTY, "time"),
    "latency": ("latency_ms IS NOT NULL", "latency_ms DESC"),
    "latency_p99": ("latency_ms IS NOT NULL", "latency_ms DESC"),
    "time_to_first_token": (
        "time_to_first_token_ms IS NOT NULL",
        "time_to_first_token_ms DESC",
    ),
    "input_tokens": ("input_tokens IS NOT NULL", "input_tokens DESC"),
    "output_tokens": ("output_tokens IS NOT NULL", "output_tokens DESC"),
    "output_length": ("output_tokens IS NOT NULL", "output_tokens DESC"),
    "cost_per_call": ("cost_usd IS NOT NULL", "cost_usd DESC"),
    "cost_per_hour": ("cost_usd IS NOT NULL", "cost_usd DESC"),
    "thumbs_down_rate": (
        "call_id IN (SELECT call_id FROM feedback WHERE kind = 'thumbs_down')",
        "time",
    ),
    "regenerate_rate": (
        "call_id IN (SELECT call_id FROM feedback WHERE kind = 'regenerate')",
        "time",
    ),
    "input_length": ("input_text IS NOT NULL", "length(input_text) DESC"),
}
_SAMPLE = 200


class SignalReader:
    """Reads every signal of the buckets in [start, end) from the telemetry store."""

    def __init__(
        self,
        telemetry: TelemetryStore,
        settings: Detection,
        scanners: Iterable[str] = (),
        scan_rate: float = 1.0,
    ) -> None:
        self._telemetry = telemetry
        self.settings = settings
        #: The scanners whose hit rates are read (`scan.<name>`), and the share of calls
        #: they scan.
        self.scanners = tuple(scanners)
        self.scan_rate = scan_rate
        self.bucket_s = settings.bucket_s
        # Segment dimensions, each as (name, SQL expression over `calls`).
        self.dimensions: list[tuple[str, str]] = [(name, name) for name in settings.segments]
        for key in settings.attributes:
            # Keys are validated against a strict pattern, so quoting them inline is safe.
            self.dimensions.append((key, f"json_extract_string(attributes, '$.\"{key}\"')"))

    def read(self, start: datetime, end: datetime, *, text_samples: int = 0) -> Series:
        """Every window of every series with data in [start, end)."""
        series: Series = defaultdict(dict)
        params = {"start": _naive(start), "end": _naive(end), "bucket": self.bucket_s}
        scanned = self._calls(series, params)
        self._error_types(series, params)
        self._evals(series, params)
        self._feedback(series, params)
        self._sessions(series, params)
        self._samples(series, params, text_samples)
        if self.scanners:
            self._scans(series, params, scanned)
        return series

    def features(self, start: datetime, end: datetime) -> list[str]:
        """Features with calls in [start, end)."""
        rows = self._telemetry.query(
            "SELECT DISTINCT feature FROM calls WHERE time >= $start AND time < $end",
            {"start": _naive(start), "end": _naive(end)},
        )
        return sorted(str(row[0]) for row in rows)

    # -- queries ---------------------------------------------------------------------------

    def _segments(self, prefix: str = "") -> str:
        """An expression listing a call's series: the whole feature, then "dimension=value"
        for each dimension it has a value of (NULLs drop out when unnested)."""
        parts = ["''"] + [
            f"'{name}=' || {prefix_expr(expr, prefix)}" for name, expr in self.dimensions
        ]
        return f"unnest([{', '.join(parts)}]) AS segment"

    def _rows(self, sql: str, params: dict[str, Any]) -> Iterable[tuple[Any, ...]]:
        return self._telemetry.query(sql, params)

    def _calls(self, series: Series, params: dict[str, Any]) -> dict[tuple[str, int, str], int]:
        """Every per-call signal; returns the calls of the scan sample per (feature, bucket,
        segment), the denominators of the scan hit rates."""
        sql = f"""
            WITH c AS (
                SELECT feature,
                       CAST(floor(epoch(time) / $bucket) AS BIGINT) * $bucket AS bucket,
                       {self._segments()},
                       status = 'error' AS failed, status = 'ok' AS answered,
                       ln(latency_ms + 1) AS lat, latency_ms,
                       ln(time_to_first_token_ms + 1) AS ttft,
                       ln(input_tokens + 1) AS itok,
                       CASE WHEN status = 'ok' AND output_tokens > 0
                                 AND NOT coalesce(finish_reason IN {_REFUSALS}, false)
                            THEN ln(output_tokens + 1) END AS otok,
                       ln(cost_usd * 1e6 + 1) AS cost, cost_usd,
                       finish_reason IN {_REFUSALS} AS refused,
                       status = 'ok' AND (output_tokens = 0 OR output_text = '') AS empty,
                       {in_sample("$cut")} AS sampled
                FROM calls WHERE time >= $start AND time < $end
            )
            SELECT feature, bucket, segment,
                   count(*), count(*) FILTER (failed),
                   count(*) FILTER (answered), count(*) FILTER (answered AND refused),
                   count(*) FILTER (empty),
                   count(lat), sum(lat), sum(lat * lat), quantile_cont(latency_ms, 0.99),
                   count(ttft), sum(ttft), sum(ttft * ttft),
                   count(itok), sum(itok), sum(itok * itok),
                   count(otok), sum(otok), sum(otok * otok),
                   count(cost), sum(cost), sum(cost * cost), sum(cost_usd),
                   count(*) FILTER (sampled)
            FROM c WHERE segment IS NOT NULL GROUP BY feature, bucket, segment
        """  # noqa: S608 - only constant SQL and validated names are formatted in
        scanned: dict[tuple[str, int, str], int] = {}
        for row in self._rows(sql, {**params, "cut": sample_cut(self.scan_rate)}):
            scanned[(str(row[0]), int(row[1]), str(row[2]))] = int(row[-1])
            row = row[:-1]
            feature, bucket, segment = str(row[0]), int(row[1]), str(row[2])
            (calls, errors, answered, refused, empty, *rest) = row[3:]
            start, end = self._span(bucket)

            found: dict[str, Window] = {}
            found["volume"] = Window(start, end, n=1, total=float(calls))
            found["error_rate"] = Window(start, end, n=calls, total=float(errors))
            if answered:
                found["refusal_rate"] = Window(start, end, n=answered, total=float(refused))
                found["empty_rate"] = Window(start, end, n=answered, total=float(empty))
            lat_n, lat, lat_sq, p99 = rest[0:4]
            if lat_n:
                found["latency"] = Window(start, end, n=lat_n, total=lat, total_sq=lat_sq)
                found["latency_p99"] = Window(start, end, n=lat_n, total=float(p99))
            for name, (n, total, total_sq) in (
                ("time_to_first_token", rest[4:7]),
                ("input_tokens", rest[7:10]),
                ("output_tokens", rest[10:13]),
                ("cost_per_call", rest[13:16]),
            ):
                if n:
                    found[name] = Window(start, end, n=n, total=total, total_sq=total_sq)
            if rest[13]:
                per_hour = float(rest[16]) * 3_600 / self.bucket_s
                found["cost_per_hour"] = Window(start, end, n=calls, total=per_hour)
            for signal, window in found.items():
                series[SeriesKey(feature, signal, segment)][start] = window
        return scanned

    def _error_types(self, series: Series, params: dict[str, Any]) -> None:
        """Failed calls per error type: `error_rate.<type>`, hits among all calls."""
        sql = f"""
            WITH e AS (
                SELECT feature,
                       CAST(floor(epoch(time) / $bucket) AS BIGINT) * $bucket AS bucket,
                       {self._segments()}, coalesce(error_type, 'unknown') AS kind
                FROM calls WHERE time >= $start AND time < $end AND status = 'error'
            )
            SELECT feature, bucket, segment, kind, count(*)
            FROM e WHERE segment IS NOT NULL GROUP BY ALL
        """  # noqa: S608 - only constant SQL and validated names are formatted in
        for feature, bucket, segment, kind, hits in self._rows(sql, params):
            start, end = self._span(int(bucket))
            volume = series.get(SeriesKey(str(feature), "volume", str(segment)), {}).get(start)
            if volume is None:
                continue
            key = SeriesKey(str(feature), ERROR_TYPE_RATE + str(kind), str(segment))
            series[key][start] = Window(start, end, n=int(volume.total), total=float(hits))

    def _evals(self, series: Series, params: dict[str, Any]) -> None:
        sql = f"""
            WITH e AS (
                SELECT feature,
                       CAST(floor(epoch(time) / $bucket) AS BIGINT) * $bucket AS bucket,
                       {self._segments()}, eval_scores
                FROM calls
                WHERE time >= $start AND time < $end AND cardinality(eval_scores) > 0
            ), s AS (
                SELECT feature, bucket, segment,
                       unnest(map_keys(eval_scores)) AS k, unnest(map_values(eval_scores)) AS v
                FROM e WHERE segment IS NOT NULL
            )
            SELECT feature, bucket, k, segment,
                   count(v), sum(v), sum(v * v), count(*) FILTER (v < $pass)
            FROM s WHERE v IS NOT NULL GROUP BY feature, bucket, k, segment
        """  # noqa: S608 - only constant SQL and validated names are formatted in
        params = {**params, "pass": self.settings.eval_pass_threshold}
        for row in self._rows(sql, params):
            feature, bucket, name, segment = str(row[0]), int(row[1]), str(row[2]), str(row[3])
            n, total, total_sq, fails = row[4:]
            start, end = self._span(bucket)
            series[SeriesKey(feature, EVAL_SCORE + name, segment)][start] = Window(
                start, end, n=n, total=total, total_sq=total_sq
            )
            series[SeriesKey(feature, EVAL_FAIL_RATE + name, segment)][start] = Window(
                start, end, n=n, total=float(fails)
            )

    def _feedback(self, series: Series, params: dict[str, Any]) -> None:
        sql = f"""
            WITH f AS (
                SELECT c.feature,
                       CAST(floor(epoch(f.time) / $bucket) AS BIGINT) * $bucket AS bucket,
                       {self._segments("c")}, f.kind, f.value
                FROM feedback f JOIN calls c ON c.call_id = f.call_id
                WHERE f.time >= $start AND f.time < $end
            )
            SELECT feature, bucket, segment,
                   count(*) FILTER (kind IN ('thumbs_up', 'thumbs_down')),
                   count(*) FILTER (kind = 'thumbs_down'),
                   count(*) FILTER (kind = 'regenerate'),
                   count(value) FILTER (kind = 'edit'), sum(value) FILTER (kind = 'edit'),
                   sum(value * value) FILTER (kind = 'edit')
            FROM f WHERE segment IS NOT NULL GROUP BY feature, bucket, segment
        """  # noqa: S608 - only constant SQL and validated names are formatted in
        for row in self._rows(sql, params):
            feature, bucket, segment = str(row[0]), int(row[1]), str(row[2])
            thumbs, down, regenerated, edits, edit_sum, edit_sq = row[3:]
            start, end = self._span(bucket)
            if thumbs:
                series[SeriesKey(feature, "thumbs_down_rate", segment)][start] = Window(
                    start, end, n=thumbs, total=float(down)
                )
            calls = series.get(SeriesKey(feature, "volume", segment), {}).get(start)
            if calls is not None and calls.total > 0:
                n = int(calls.total)
                series[SeriesKey(feature, "regenerate_rate", segment)][start] = Window(
                    start, end, n=n, total=float(min(regenerated, n))
                )
            if edits:
                series[SeriesKey(feature, "edit_distance", segment)][start] = Window(
                    start, end, n=edits, total=edit_sum, total_sq=edit_sq
                )

    def _sessions(self, series: Series, params: dict[str, Any]) -> None:
        sql = """
            WITH s AS (
                SELECT feature,
                       CAST(floor(epoch(time) / $bucket) AS BIGINT) * $bucket AS bucket,
                       count(*) AS n
                FROM calls
                WHERE time >= $start AND time < $end
                  AND coalesce(session_id, trace_id) IS NOT NULL
                GROUP BY feature, bucket, coalesce(session_id, trace_id)
            )
            SELECT feature, bucket, count(*), sum(n), sum(n * n), max(n) FROM s GROUP BY ALL
        """
        for feature, bucket, sessions, calls, calls_sq, most in self._rows(sql, params):
            start, end = self._span(int(bucket))
            key = SeriesKey(str(feature), "calls_per_session")
            series[key][start] = Window(
                start, end, n=sessions, total=float(calls), total_sq=float(calls_sq)
            )
            series[SeriesKey(str(feature), "max_calls_per_session")][start] = Window(
                start, end, n=sessions, total=float(most)
            )

    def _scans(
        self, series: Series, params: dict[str, Any], scanned: dict[tuple[str, int, str], int]
    ) -> None:
        """`scan.<scanner>`: of the calls of the scan sample (counted by `_calls`), the share
        with hits of each scanner (every tick scans what is new before detection reads it);
        hits of calls scanned beyond the sample (a contained feature's) are not counted."""
        hits_sql = f"""
            WITH h AS (
                SELECT DISTINCT call_id, scanner FROM scan_hits
                WHERE time >= $start AND time < $end AND {in_sample("$cut")}
            ), c AS (
                SELECT c.feature,
                       CAST(floor(epoch(c.time) / $bucket) AS BIGINT) * $bucket AS bucket,
                       {self._segments("c")}, h.scanner
                FROM h JOIN calls c ON c.call_id = h.call_id
                WHERE c.time >= $start AND c.time < $end
            )
            SELECT feature, bucket, segment, scanner, count(*) FROM c
            WHERE segment IS NOT NULL GROUP BY ALL
        """  # noqa: S608 - only constant SQL and validated names are formatted in
        hits: dict[tuple[str, int, str, str], int] = {
            (str(f), int(b), str(s), str(k)): int(n)
            for f, b, s, k, n in self._rows(hits_sql, {**params, "cut": sample_cut(self.scan_rate)})
        }
        for (feature, bucket, segment), count in scanned.items():
            if not count:
                continue
            start, end = self._span(bucket)
            for scanner in self.scanners:
                found = hits.get((feature, bucket, segment, scanner), 0)
                key = SeriesKey(feature, SCAN_RATE + scanner, segment)
                series[key][start] = Window(start, end, n=count, total=float(found))

    def _samples(self, series: Series, params: dict[str, Any], text_samples: int) -> None:
        texts = (
            f"list(input_text ORDER BY hash(call_id)) FILTER (input_text IS NOT NULL)"
            f"[1:{int(text_samples)}]"
            if text_samples > 0
            else "NULL"
        )
        sql = f"""
            SELECT feature,
                   CAST(floor(epoch(time) / $bucket) AS BIGINT) * $bucket AS bucket,
                   list(coalesce(output_tokens, length(output_text)) ORDER BY hash(call_id))
                       FILTER (status = 'ok' AND coalesce(output_tokens, length(output_text))
                               IS NOT NULL)[1:{_SAMPLE}],
                   list(length(input_text) ORDER BY hash(call_id))
                       FILTER (input_text IS NOT NULL)[1:{_SAMPLE}],
                   histogram(finish_reason) FILTER (finish_reason IS NOT NULL),
                   histogram(coalesce(error_type, 'unknown')) FILTER (status = 'error'),
                   {texts}
            FROM calls WHERE time >= $start AND time < $end
            GROUP BY ALL
        """  # noqa: S608 - only constant SQL and a validated integer are formatted in
        for feature, bucket, lengths, input_lengths, reasons, errors, prompts in self._rows(
            sql, params
        ):
            start, end = self._span(int(bucket))
            feature = str(feature)
            for name, values in (("output_length", lengths), ("input_length", input_lengths)):
                if values:
                    found = tuple(float(v) for v in values if v is not None)
                    series[SeriesKey(feature, name)][start] = Window(
                        start, end, n=len(found), values=found
                    )
            for name, counts in (("finish_reasons", reasons), ("error_types", errors)):
                if counts:
                    found_counts = {str(k): int(v) for k, v in counts.items()}
                    series[SeriesKey(feature, name)][start] = Window(
                        start, end, n=sum(found_counts.values()), categories=found_counts
                    )
            if prompts:
                series[SeriesKey(feature, "input_text")][start] = Window(
                    start, end, n=len(prompts), texts=tuple(str(t) for t in prompts)
                )

    # -- evidence --------------------------------------------------------------------------

    def _where_segment(self, key: SeriesKey, params: dict[str, Any]) -> str:
        if not key.segment:
            return ""
        dimension, _, value = key.segment.partition("=")
        expressions = dict(self.dimensions)
        if dimension not in expressions:
            return " AND FALSE"
        params["segment_value"] = value
        return f" AND {expressions[dimension]} = $segment_value"

    def sample_call_ids(
        self, key: SeriesKey, start: datetime, end: datetime, limit: int = 5
    ) -> list[str]:
        """A few calls of the series in [start, end) that show its signal at its worst."""
        params: dict[str, Any] = {"feature": key.feature, "start": _naive(start)}
        params.update({"end": _naive(end), "limit": limit})
        where, order = _SAMPLE_BY.get(key.signal, ("TRUE", "time DESC"))
        if key.signal.startswith(ERROR_TYPE_RATE):
            where, order = _SAMPLE_BY[ERROR_TYPE_RATE]
            params["kind"] = key.signal[len(ERROR_TYPE_RATE) :]
        if key.signal.startswith(SCAN_RATE):
            params["scanner"] = key.signal[len(SCAN_RATE) :]
            where = (
                "call_id IN (SELECT call_id FROM scan_hits WHERE scanner = $scanner "
                "AND time >= $start AND time < $end)"
            )
            order = "time"
        if key.signal.startswith((EVAL_SCORE, EVAL_FAIL_RATE)):
            params["eval"] = key.signal.partition(".")[2]
            where = "map_extract(eval_scores, $eval)[1] IS NOT NULL"
            order = "map_extract(eval_scores, $eval)[1], time"
        sql = (
            f"SELECT call_id FROM calls WHERE feature = $feature AND time >= $start "  # noqa: S608 - constant SQL
            f"AND time < $end AND {where}{self._where_segment(key, params)} "
            f"ORDER BY {order}, call_id LIMIT $limit"
        )
        return [str(row[0]) for row in self._rows(sql, params)]

    def segment_share(self, key: SeriesKey, start: datetime, end: datetime) -> float:
        """The segment's share of the feature's calls in [start, end) (1 for the whole
        feature): the blast radius triage weighs."""
        if not key.segment:
            return 1.0
        params: dict[str, Any] = {"feature": key.feature, "start": _naive(start)}
        params["end"] = _naive(end)
        condition = self._where_segment(key, params).removeprefix(" AND ")
        sql = (
            f"SELECT count(*), count(*) FILTER (WHERE {condition}) FROM calls "  # noqa: S608 - constant SQL
            "WHERE feature = $feature AND time >= $start AND time < $end"
        )
        rows = list(self._rows(sql, params))
        total, inside = (int(rows[0][0]), int(rows[0][1])) if rows else (0, 0)
        return inside / total if total else 1.0

    def error_types(self, key: SeriesKey, start: datetime, end: datetime) -> dict[str, int]:
        """Failed calls of the series in [start, end) by error type, most frequent first."""
        params: dict[str, Any] = {"feature": key.feature, "start": _naive(start)}
        params["end"] = _naive(end)
        sql = (
            "SELECT coalesce(error_type, 'unknown') AS kind, count(*) AS n FROM calls "  # noqa: S608 - constant SQL
            "WHERE feature = $feature AND status = 'error' AND time >= $start AND time < $end"
            f"{self._where_segment(key, params)} GROUP BY kind ORDER BY n DESC, kind"
        )
        return {str(kind): int(n) for kind, n in self._rows(sql, params)}

    def _span(self, bucket: int) -> tuple[datetime, datetime]:
        start = datetime.fromtimestamp(bucket, UTC)
        return start, datetime.fromtimestamp(bucket + self.bucket_s, UTC)


def prefix_expr(expr: str, prefix: str) -> str:
    """A segment expression over a table alias: `model` -> `c.model`."""
    if not prefix:
        return expr
    if expr.startswith("json_extract_string(attributes"):
        return expr.replace("attributes", f"{prefix}.attributes", 1)
    return f"{prefix}.{expr}"


def _naive(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(tzinfo=None)
