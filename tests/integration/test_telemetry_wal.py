"""Calls stored are in the telemetry store's log at once, however rarely it checkpoints."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

from fireline.domain.telemetry import Call
from fireline.store.telemetry import TelemetryStore
from tests.conftest import T0


def test_the_store_checkpoints_only_after_64_mib_of_log(tmp_path: Path) -> None:
    store = TelemetryStore(tmp_path / "telemetry.duckdb")
    try:
        row = store._db.execute("SELECT current_setting('checkpoint_threshold')").fetchone()
    finally:
        store.close()
    assert row == ("64.0 MiB",)


def test_calls_stored_survive_a_crash_before_any_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "live").mkdir()
    store = TelemetryStore(tmp_path / "live" / "telemetry.duckdb")
    try:
        for batch in range(20):
            calls = [
                Call(f"c{batch}-{n}", T0 + timedelta(seconds=n), "bot", input_text="x" * 500)
                for n in range(500)
            ]
            assert store.insert_calls(calls) == 500
        # What a crash leaves: the files as they are, the log not folded into the database.
        shutil.copytree(tmp_path / "live", tmp_path / "crashed")
    finally:
        store.close()
    assert (tmp_path / "crashed" / "telemetry.duckdb.wal").stat().st_size > 0
    reopened = TelemetryStore(tmp_path / "crashed" / "telemetry.duckdb")
    try:
        assert reopened.count_calls() == 10_000
        assert reopened.insert_calls([Call("c0-0", T0, "bot")]) == 0  # still known
    finally:
        reopened.close()
