"""The DuckDB telemetry store: durable, idempotent, aggregated in SQL."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from fireline.detect.config import Detection
from fireline.detect.signals import SeriesKey, SignalReader
from fireline.domain.telemetry import Call, CallStatus
from fireline.errors import StoreUnavailable
from fireline.store.telemetry import TelemetryStore
from tests.conftest import T0


def a_call(n: int, *, seconds: float = 0, failed: bool = False, feature: str = "bot") -> Call:
    return Call(
        call_id=f"c{n}",
        time=T0 + timedelta(seconds=seconds),
        feature=feature,
        status=CallStatus.ERROR if failed else CallStatus.OK,
        error_type="http_503" if failed else None,
        tenant="acme",
        attributes={"locale": "fr", "probe": False},
    )


def test_sending_the_same_calls_twice_stores_them_once(telemetry: TelemetryStore) -> None:
    assert telemetry.insert_calls([a_call(1), a_call(2)]) == 2
    assert telemetry.insert_calls([a_call(2), a_call(3)]) == 1
    assert telemetry.count_calls() == 3


def test_a_batch_that_repeats_a_call_stores_it_once(telemetry: TelemetryStore) -> None:
    assert telemetry.insert_calls([a_call(1), a_call(1), a_call(1)]) == 1
    assert telemetry.count_calls() == 1


def test_a_stored_call_keeps_every_field(telemetry: TelemetryStore) -> None:
    telemetry.insert_calls([a_call(7, seconds=1.5, failed=True)])
    stored = telemetry.get_call("c7")
    assert stored is not None
    assert stored["time"] == T0 + timedelta(seconds=1.5)
    assert stored["status"] == "error"
    assert stored["error_type"] == "http_503"
    assert stored["tenant"] == "acme"
    assert stored["attributes"] == {"locale": "fr", "probe": False}
    assert telemetry.get_call("nope") is None


def test_error_rate_windows_count_calls_and_errors_per_feature_and_minute(
    telemetry: TelemetryStore,
) -> None:
    telemetry.insert_calls(
        [
            a_call(1, seconds=5),
            a_call(2, seconds=30, failed=True),
            a_call(3, seconds=65, failed=True),
            a_call(4, seconds=70, feature="other"),
            a_call(5, seconds=200),  # outside the range asked for
        ]
    )
    series = SignalReader(telemetry, Detection()).read(T0, T0 + timedelta(minutes=2))
    buckets = sorted(
        (key.feature, start, w.n, int(w.total))
        for key, windows in series.items()
        if key.signal == "error_rate" and not key.segment
        for start, w in windows.items()
    )
    assert buckets == [
        ("bot", T0, 2, 1),
        ("bot", T0 + timedelta(minutes=1), 1, 1),
        ("other", T0 + timedelta(minutes=1), 1, 0),
    ]


def test_error_types_and_samples_describe_the_failures(telemetry: TelemetryStore) -> None:
    telemetry.insert_calls([a_call(i, seconds=i, failed=i % 2 == 0) for i in range(10)])
    end = T0 + timedelta(minutes=1)
    reader, errors = SignalReader(telemetry, Detection()), SeriesKey("bot", "error_rate")
    assert reader.error_types(errors, T0, end) == {"http_503": 5}
    assert reader.sample_call_ids(errors, T0, end, limit=3) == ["c0", "c2", "c4"]


def test_the_store_survives_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.duckdb"
    store = TelemetryStore(path)
    store.insert_calls([a_call(1)])
    store.close()
    reopened = TelemetryStore(path)
    assert reopened.count_calls() == 1
    reopened.close()


def test_a_second_process_is_told_the_store_is_in_use(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.duckdb"
    store = TelemetryStore(path)
    try:
        script = (
            "import sys\n"
            "from fireline.store.telemetry import TelemetryStore\n"
            "from fireline.errors import StoreUnavailable\n"
            "try:\n"
            f"    TelemetryStore({str(path)!r})\n"
            "except StoreUnavailable as error:\n"
            "    print(error); sys.exit(3)\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=False
        )
    finally:
        store.close()
    assert result.returncode == 3, result.stderr
    assert "fireline serve" in result.stdout
    assert StoreUnavailable.__name__ == "StoreUnavailable"


def test_a_batch_that_fails_to_convert_writes_nothing(telemetry: TelemetryStore) -> None:
    broken = Call(call_id="bad", time=T0, feature="bot", input_tokens="many")  # type: ignore[arg-type]
    with pytest.raises(Exception, match=r"many|int"):
        telemetry.insert_calls([a_call(1), broken])
    assert telemetry.count_calls() == 0


def test_genai_fields_round_trip(telemetry: TelemetryStore) -> None:
    call = Call(
        call_id="g1",
        time=T0,
        feature="rag",
        operation="chat",
        request_model="gpt-x",
        model="gpt-x-2026-01",
        response_id="resp-1",
        session_id="conv-9",
        span_id="abcd",
        time_to_first_token_ms=210.5,
        retrieved_doc_ids=("kb/1", "kb/2"),
        cited_doc_ids=("kb/2",),
        eval_scores={"faithfulness": 0.82, "relevance": 0.9},
    )
    telemetry.insert_calls([call])
    stored = telemetry.get_call("g1")
    assert stored is not None
    assert stored["operation"] == "chat"
    assert stored["request_model"] == "gpt-x"
    assert stored["model"] == "gpt-x-2026-01"
    assert stored["session_id"] == "conv-9"
    assert stored["time_to_first_token_ms"] == 210.5
    assert stored["retrieved_doc_ids"] == ["kb/1", "kb/2"]
    assert stored["cited_doc_ids"] == ["kb/2"]
    assert stored["eval_scores"] == {"faithfulness": 0.82, "relevance": 0.9}


def test_a_version_1_store_is_upgraded_in_place_keeping_its_calls(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "telemetry.duckdb"
    old = duckdb.connect(str(path))
    old.execute(
        "CREATE TABLE calls (call_id VARCHAR PRIMARY KEY, time TIMESTAMP NOT NULL, "
        "feature VARCHAR NOT NULL, status VARCHAR NOT NULL, error_type VARCHAR, "
        "latency_ms DOUBLE, provider VARCHAR, model VARCHAR, model_version VARCHAR, "
        "prompt_version VARCHAR, index_version VARCHAR, tenant VARCHAR, user_id VARCHAR, "
        "trace_id VARCHAR, input_tokens BIGINT, output_tokens BIGINT, cost_usd DOUBLE, "
        "finish_reason VARCHAR, input_text VARCHAR, output_text VARCHAR, attributes VARCHAR)"
    )
    old.execute("CREATE TABLE schema_version (version INTEGER)")
    old.execute("INSERT INTO schema_version VALUES (1)")
    old.execute(
        "INSERT INTO calls (call_id, time, feature, status, attributes) "
        "VALUES ('old', TIMESTAMP '2026-03-02 09:00:00', 'bot', 'ok', '{}')"
    )
    old.close()

    store = TelemetryStore(path)
    try:
        assert store.schema_version == 2
        kept = store.get_call("old")
        assert kept is not None
        assert kept["feature"] == "bot"
        assert kept["cited_doc_ids"] is None
        assert (
            store.insert_calls([Call(call_id="new", time=T0, feature="bot", cited_doc_ids=("d",))])
            == 1
        )
        assert store.count_calls() == 2
    finally:
        store.close()
    reopened = TelemetryStore(path)
    assert reopened.schema_version == 2
    reopened.close()


def test_feedback_is_stored_once_and_read_back_by_call(telemetry: TelemetryStore) -> None:
    from fireline.domain.telemetry import Feedback, FeedbackKind

    down = Feedback("f1", "c1", T0, FeedbackKind.THUMBS_DOWN, feature="bot")
    edit = Feedback("f2", "c1", T0 + timedelta(seconds=5), FeedbackKind.EDIT, value=0.4)
    assert {f.feedback_id for f in telemetry.insert_new_feedback([down, edit])} == {"f1", "f2"}
    assert telemetry.insert_new_feedback([down]) == []
    stored = telemetry.feedback_for("c1")
    assert [f["kind"] for f in stored] == ["thumbs_down", "edit"]
    assert stored[1]["value"] == 0.4
    assert stored[0]["time"] == T0
