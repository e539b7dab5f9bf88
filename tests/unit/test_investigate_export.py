"""Affected calls export as CSV that spreadsheets read back and as one JSON object a line;
the signal predicates and segment filters they are selected by are parameterised SQL."""

from __future__ import annotations

import csv
import doctest
import io
import json
from datetime import UTC, datetime

import pytest

from fireline.investigate import export, onset, predicates, segments, stats, suspects
from fireline.investigate.export import COLUMNS, lines
from fireline.investigate.predicates import predicate, segment_condition, why

ROWS = [
    {
        "call_id": "c1",
        "time": datetime(2026, 3, 2, 12, 0, tzinfo=UTC),
        "tenant": "acme, inc.",
        "user_id": "u_1",
        "status": "error",
        "error_type": 'bad "format"\nagain',
        "why": "error_rate: status = error",
    },
    {"call_id": "c2", "time": datetime(2026, 3, 2, 12, 1, tzinfo=UTC), "status": "error"},
]


def test_csv_has_a_header_and_reads_back_with_commas_quotes_and_newlines() -> None:
    text = "".join(lines(ROWS, "csv"))
    records = list(csv.DictReader(io.StringIO(text)))
    assert list(records[0]) == list(COLUMNS)
    assert records[0]["tenant"] == "acme, inc."
    assert records[0]["error_type"] == 'bad "format"\nagain'
    assert records[0]["time"] == "2026-03-02T12:00:00+00:00"
    assert records[1]["tenant"] == ""


def test_jsonl_has_one_object_per_line_with_every_column() -> None:
    objects = [json.loads(line) for line in "".join(lines(ROWS, "jsonl")).splitlines()]
    assert [o["call_id"] for o in objects] == ["c1", "c2"]
    assert set(objects[1]) == set(COLUMNS)
    assert objects[1]["tenant"] is None


def test_an_empty_export_is_a_header_in_csv_and_nothing_in_jsonl() -> None:
    assert "".join(lines([], "csv")).startswith("call_id,time,")
    assert list(lines([], "jsonl")) == []


def test_signals_read_per_call_as_detection_samples_them() -> None:
    typed = predicate("error_rate.timeout", feature="bot")
    assert typed.params == {"kind": "timeout"}
    assert "$kind" in typed.where
    assert (
        why(typed)
        == "error_rate.timeout: status = error AND coalesce(error_type, unknown) = timeout"
    )
    assert predicate("refusal_rate", feature="bot").kind == "rate"
    evals = predicate("eval.faithfulness", feature="bot")
    assert (evals.kind, evals.direction) == ("metric", -1)
    assert (
        predicate("eval_fail_rate.faithfulness", feature="bot", eval_pass=0.7).params["pass"] == 0.7
    )
    assert why(predicate("scan.pii", feature="bot")) == "scan.pii: hit by the pii scanner"
    assert why(predicate("latency", feature="bot"), 1200.0) == (
        "latency: latency_ms > 1200 (baseline tail)"
    )
    unknown = predicate("volume", feature="bot")
    assert unknown.note
    assert unknown.where == "status = 'error'"


def test_segments_are_filtered_by_parameters_and_unsafe_names_match_nothing() -> None:
    sql, params = segment_condition({"locale": "de-DE", "tenant": "x' OR 1=1 --"})
    assert sql == "json_extract_string(attributes, $seg_path_0) = $seg_0 AND tenant = $seg_1"
    assert params == {"seg_0": "de-DE", "seg_path_0": '$."locale"', "seg_1": "x' OR 1=1 --"}
    assert segment_condition({"a'b": "x"})[0] == "FALSE"


@pytest.mark.parametrize("module", [export, onset, predicates, segments, stats, suspects])
def test_the_examples_in_the_docstrings_hold(module: object) -> None:
    result = doctest.testmod(module, raise_on_error=False, verbose=False)  # type: ignore[arg-type]
    assert result.attempted > 0
    assert result.failed == 0
