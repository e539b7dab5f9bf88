"""The `fireline` command as a user runs it, in a subprocess, on a data directory."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.conftest import T0
from tests.servers import cli_env, run_fireline


def fireline(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return run_fireline(*args, env=cli_env(data_dir))


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def day_of_calls(outage_from_minute: int | None) -> list[dict[str, Any]]:
    rows = []
    for minute in range(80):
        for i in range(60):
            outage = outage_from_minute is not None and minute >= outage_from_minute
            failed = i % 2 == 0 if outage else (i == 0 and minute % 2 == 0)
            rows.append(
                {
                    "time": (T0 + timedelta(minutes=minute, seconds=i)).isoformat(),
                    "feature": "support-bot",
                    "status": "error" if failed else "ok",
                    "error_type": "http_503" if failed else None,
                }
            )
    return rows


def test_ingest_then_tick_opens_an_incident_listed_by_the_cli(tmp_path: Path) -> None:
    data = tmp_path / "data"
    calls = write_jsonl(tmp_path / "calls.jsonl", day_of_calls(outage_from_minute=77))
    stored = fireline("ingest", str(calls), data_dir=data)
    assert stored.returncode == 0, stored.stderr
    assert "4800 calls stored, 0 already stored" in stored.stdout

    again = fireline("ingest", str(calls), data_dir=data)
    assert "0 calls stored, 4800 already stored" in again.stdout

    ticked = fireline(
        "tick", "--at", (T0 + timedelta(minutes=80, seconds=30)).isoformat(), data_dir=data
    )
    assert ticked.returncode == 0, ticked.stderr
    assert "1 alert(s)" in ticked.stdout

    listed = fireline("incidents", "--json", data_dir=data)
    [incident] = json.loads(listed.stdout)
    assert incident["type"] == "availability"
    assert incident["state"] == "contained"

    guards = json.loads(fireline("guards", "--json", data_dir=data).stdout)
    assert guards == [
        {
            "feature": "support-bot",
            "level": 4,
            "enabled": False,
            "reason": guards[0]["reason"],
            "incident_id": incident["id"],
            "fallback": {},
        }
    ]

    shown = fireline("incident", str(incident["id"]), data_dir=data)
    assert "guard_set" in shown.stdout

    resolved = fireline("resolve", str(incident["id"]), "--reason", "provider fixed", data_dir=data)
    assert resolved.returncode == 0, resolved.stderr
    assert json.loads(fireline("guards", "--json", data_dir=data).stdout)[0]["enabled"] is True
    assert (data / "telemetry.duckdb").exists()
    assert (data / "state.db").exists()


def test_a_bad_line_is_reported_with_file_and_line_and_nothing_is_written(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rows: list[Any] = [*day_of_calls(None)[:3], {"time": T0.isoformat()}, "{broken"]
    calls = write_jsonl(tmp_path / "calls.jsonl", rows)
    result = fireline("ingest", str(calls), data_dir=data)
    assert result.returncode == 2
    assert f"{calls}: line 5: not valid JSON" in result.stderr

    rows = [*day_of_calls(None)[:3], {"time": T0.isoformat()}]
    calls = write_jsonl(tmp_path / "calls.jsonl", rows)
    result = fireline("ingest", str(calls), data_dir=data)
    assert result.returncode == 2
    assert "line 4, field 'feature': Field required" in result.stderr
    assert "Traceback" not in result.stderr
    listed = fireline(
        "ingest", str(write_jsonl(tmp_path / "ok.jsonl", day_of_calls(None)[:3])), data_dir=data
    )
    assert "3 calls stored, 0 already stored" in listed.stdout


def test_the_data_directory_comes_from_the_flag_before_the_environment(tmp_path: Path) -> None:
    flag_dir, env_dir = tmp_path / "flag", tmp_path / "env"
    calls = write_jsonl(tmp_path / "calls.jsonl", day_of_calls(None)[:5])
    result = fireline("--data-dir", str(flag_dir), "ingest", str(calls), data_dir=env_dir)
    assert result.returncode == 0, result.stderr
    assert (flag_dir / "telemetry.duckdb").exists()
    assert not env_dir.exists()


def test_an_unknown_drill_scenario_is_named_with_the_known_ones(tmp_path: Path) -> None:
    result = fireline("drill", "volcano", data_dir=tmp_path)
    assert result.returncode == 2
    assert "unknown scenario 'volcano'" in result.stderr
    assert "provider-outage" in result.stderr


def test_an_unknown_incident_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    result = fireline("incident", "42", data_dir=tmp_path)
    assert result.returncode == 1
    assert "incident 42 does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_server_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    calls = write_jsonl(tmp_path / "calls.jsonl", day_of_calls(None)[:3])
    result = fireline("ingest", str(calls), "--url", "http://127.0.0.1:9", data_dir=tmp_path)
    assert result.returncode == 1
    assert "cannot reach the server" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_tick_in_the_future_is_refused(tmp_path: Path) -> None:
    result = fireline("tick", "--at", "2999-01-01T00:00:00+00:00", data_dir=tmp_path)
    assert result.returncode == 2
    assert "--at" in result.stderr
    assert "future" in result.stderr


def test_a_line_nested_beyond_reason_is_refused_with_its_line(tmp_path: Path) -> None:
    calls = tmp_path / "calls.jsonl"
    calls.write_text(
        json.dumps(day_of_calls(None)[0]) + "\n" + "[" * 100_000 + "]" * 100_000 + "\n"
    )
    result = fireline("ingest", str(calls), data_dir=tmp_path)
    assert result.returncode == 2
    assert "line 2: not usable JSON" in result.stderr


def test_a_bad_state_url_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    result = fireline("--state-url", "nonsense://", "incidents", data_dir=tmp_path)
    assert result.returncode == 1
    assert "state store" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_configuration_file_prices_and_redacts_what_is_ingested(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "fireline.yaml").write_text(
        "ingest:\n  prices:\n    gpt-4o: {input: 2.5, output: 10}\n"
    )
    row = {
        "call_id": "c1",
        "time": T0.isoformat(),
        "feature": "bot",
        "model": "gpt-4o",
        "input_tokens": 1000,
        "output_tokens": 100,
        "user": "jane",
        "output_text": "sure, mail jane@example.com",
    }
    stored = fireline("ingest", str(write_jsonl(tmp_path / "c.jsonl", [row])), data_dir=data)
    assert stored.returncode == 0, stored.stderr
    check = (
        "from fireline.store.telemetry import TelemetryStore\n"
        f"call = TelemetryStore({str(data / 'telemetry.duckdb')!r}).get_call('c1')\n"
        "print(round(call['cost_usd'], 6), call['user_id'][:2], call['output_text'])\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, check=False
    )
    assert shown.stdout.split(None, 2) == ["0.0035", "u_", "sure, mail [EMAIL]\n"]


def test_config_check_names_the_line_of_a_bad_setting(tmp_path: Path) -> None:
    bad = tmp_path / "fireline.yaml"
    bad.write_text("ingest:\n  redaction:\n    pii: smudge\n")
    result = fireline("config", "check", str(bad), data_dir=tmp_path)
    assert result.returncode == 2
    assert f"{bad}:3: ingest.redaction.pii" in result.stderr
    serving = fireline("--config", str(bad), "serve", "--port", "1", data_dir=tmp_path)
    assert serving.returncode == 2  # refused before it listens
    assert f"{bad}:3:" in serving.stderr


def test_changes_and_feedback_are_imported_by_kind_and_changes_listed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    changes = write_jsonl(
        tmp_path / "changes.jsonl",
        [
            {
                "time": T0.isoformat(),
                "kind": "prompt",
                "version": "v8",
                "previous_version": "v7",
                "feature": "support-bot",
                "author": "ana",
            },
            {"time": (T0 + timedelta(hours=1)).isoformat(), "kind": "model", "version": "m-2"},
        ],
    )
    stored = fireline("ingest", str(changes), "--kind", "changes", data_dir=data)
    assert stored.returncode == 0, stored.stderr
    assert "2 changes stored, 0 already stored" in stored.stdout
    listed = json.loads(fireline("changes", "--json", data_dir=data).stdout)
    assert [c["version"] for c in listed] == ["m-2", "v8"]
    assert listed[1]["previous_version"] == "v7"

    feedback = write_jsonl(
        tmp_path / "feedback.jsonl",
        [
            {"call_id": "c1", "time": T0.isoformat(), "kind": "thumbs_down"},
            {"call_id": "c1", "time": T0.isoformat(), "kind": "smiley"},
        ],
    )
    refused = fireline("ingest", str(feedback), "--kind", "feedback", data_dir=data)
    assert refused.returncode == 2
    assert "line 2, field 'kind'" in refused.stderr
