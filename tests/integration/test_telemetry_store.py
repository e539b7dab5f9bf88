"""The DuckDB telemetry store: durable, idempotent, aggregated in SQL."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

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


def test_error_buckets_count_calls_and_errors_per_feature_and_minute(
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
    buckets = telemetry.error_buckets(T0, T0 + timedelta(minutes=2), 60)
    assert [(b.feature, b.start, b.calls, b.errors) for b in buckets] == [
        ("bot", T0, 2, 1),
        ("bot", T0 + timedelta(minutes=1), 1, 1),
        ("other", T0 + timedelta(minutes=1), 1, 0),
    ]


def test_error_types_and_samples_describe_the_failures(telemetry: TelemetryStore) -> None:
    telemetry.insert_calls([a_call(i, seconds=i, failed=i % 2 == 0) for i in range(10)])
    end = T0 + timedelta(minutes=1)
    assert telemetry.error_types("bot", T0, end) == {"http_503": 5}
    assert telemetry.sample_call_ids("bot", T0, end, failed=True, limit=3) == ["c0", "c2", "c4"]


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
