"""Extracting eval cases from an incident's affected calls (read from the stores)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fireline.evals.assertions import derive, rubric
from fireline.evals.diversity import MAX_CASES, MIN_CASES, deduplicated, diverse, embedder
from fireline.evals.model import Context, EvalCase, Judgement
from fireline.investigate.service import Investigator
from fireline.store.state import StateTx
from fireline.store.telemetry import TelemetryStore

if TYPE_CHECKING:
    from fireline.runtime import Fireline

#: Most affected calls read to pick cases from (the earliest, in time order).
MAX_READ = 20_000
_COLUMNS = (
    "call_id",
    "time",
    "tenant",
    "model",
    "model_version",
    "prompt_version",
    "index_version",
    "status",
    "error_type",
    "finish_reason",
    "latency_ms",
    "output_tokens",
    "cost_usd",
    "input_text",
    "output_text",
    "retrieved_doc_ids",
    "cited_doc_ids",
)


@dataclass(frozen=True, slots=True)
class Extraction:
    """The cases picked from an incident, and how they were picked."""

    incident_id: int
    signal: str
    cases: list[EvalCase]
    affected: int
    with_input: int
    distinct: int
    embedder: str
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line saying how many cases came from how many calls."""
        return (
            f"{len(self.cases)} cases from {self.affected} affected calls "
            f"({self.with_input} with input text, {self.distinct} distinct inputs; "
            f"{self.embedder} embeddings)"
        )


def affected_rows(
    telemetry: TelemetryStore, where: str, params: Mapping[str, Any], limit: int = MAX_READ
) -> list[dict[str, Any]]:
    """The affected calls `where` selects, in time order, with what cases need of them."""
    sql = (
        f"SELECT {', '.join(_COLUMNS)} FROM calls WHERE {where} "  # noqa: S608 - constant SQL
        "ORDER BY time, call_id LIMIT $limit"
    )
    rows = telemetry.query(sql, {**params, "limit": limit})
    return [dict(zip(_COLUMNS, row, strict=True)) for row in rows]


def hits_of(telemetry: TelemetryStore, call_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """Scanner hits of the calls, by call id (none when nothing was ever scanned)."""
    tables = telemetry.query(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = $name", {"name": "scan_hits"}
    )
    if not call_ids or not (tables and tables[0][0]):
        return {}
    rows = telemetry.query(
        "SELECT call_id, scanner, kind, part, start_pos, end_pos, detail FROM scan_hits "
        "WHERE list_contains($ids, call_id) ORDER BY call_id, start_pos",
        {"ids": list(call_ids)},
    )
    found: dict[str, list[dict[str, Any]]] = {}
    names = ("scanner", "kind", "part", "start", "end", "detail")
    for call_id, *rest in rows:
        found.setdefault(str(call_id), []).append(dict(zip(names, rest, strict=True)))
    return found


def case_of(
    incident_id: int,
    feature: str,
    signal: str,
    row: Mapping[str, Any],
    hits: Sequence[Mapping[str, Any]],
    threshold: float | None,
    *,
    duplicates: int = 1,
    cluster_size: int = 1,
) -> EvalCase:
    """The eval case of one affected call."""
    return EvalCase(
        id=f"incident-{incident_id}-{row['call_id']}",
        incident_id=incident_id,
        feature=feature,
        input=str(row.get("input_text") or ""),
        bad_output=row.get("output_text"),
        call_id=str(row["call_id"]),
        signal=signal,
        context=Context(
            retrieved_doc_ids=[str(d) for d in row.get("retrieved_doc_ids") or ()],
            tenant=row.get("tenant"),
            model=row.get("model"),
            model_version=row.get("model_version"),
            prompt_version=row.get("prompt_version"),
            index_version=row.get("index_version"),
        ),
        assertions=derive(signal, row, hits, threshold),
        judge=Judgement(rubric=rubric(signal)),
        duplicates=duplicates,
        cluster_size=cluster_size,
    )


def extract(
    investigator: Investigator,
    telemetry: TelemetryStore,
    tx: StateTx,
    incident_id: int,
    now: datetime,
    *,
    low: int = MIN_CASES,
    high: int = MAX_CASES,
    embedding: str = "hashing",
    seed: int = 0,
) -> Extraction:
    """Between `low` and `high` diverse cases from the incident's affected calls (fewer when
    there are fewer distinct inputs); raises NotFound for an unknown incident."""
    case = investigator.case(tx, incident_id, now)
    scope = case.scope
    where, params = scope.where(case.onset.at, case.end, failing=True)
    rows = affected_rows(telemetry, where, params)
    usable = [r for r in rows if isinstance(r.get("input_text"), str) and r["input_text"].strip()]
    by_text: dict[str, dict[str, Any]] = {}
    for row in usable:
        by_text.setdefault(row["input_text"], row)
    unique = deduplicated([r["input_text"] for r in usable])
    name, embed = embedder(embedding)
    texts = [text for text, _ in unique]
    picked = diverse(texts, low=low, high=min(high, MAX_CASES), embed=embed, seed=seed)
    chosen = [(by_text[unique[i][0]], unique[i][1], size) for i, size in picked]
    hits = hits_of(telemetry, [str(r["call_id"]) for r, _, _ in chosen])
    signal = scope.signal.signal
    cases = [
        case_of(
            incident_id,
            scope.feature,
            signal,
            row,
            hits.get(str(row["call_id"]), []),
            scope.threshold,
            duplicates=dupes,
            cluster_size=size,
        )
        for row, dupes, size in chosen
    ]
    notes: list[str] = []
    if len(rows) >= MAX_READ:
        notes.append(f"only the first {MAX_READ} affected calls were read")
    if len(cases) < low:
        notes.append(f"only {len(cases)} distinct inputs: fewer than {low} cases")
    if len(usable) < len(rows):
        notes.append(f"{len(rows) - len(usable)} affected calls had no input text to replay")
    return Extraction(incident_id, signal, cases, len(rows), len(usable), len(unique), name, notes)


def extract_for(instance: Fireline, incident_id: int, **options: Any) -> Extraction:
    """`extract` with a deployment's investigator, as of its clock."""
    from fireline.investigate import investigator_for

    with instance.state.unit_of_work(read_only=True) as tx:
        return extract(
            investigator_for(instance),
            instance.telemetry,
            tx,
            incident_id,
            instance.clock.now(),
            **options,
        )
