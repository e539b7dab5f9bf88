"""Calls become JSON fireline accepts: repaired where possible, refused alone where not."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from fireline.ingest.schema import parse_calls
from fireline.sdk._wire import encode_call

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def encoded(**fields: Any) -> dict[str, Any]:
    payload, _ = encode_call({"feature": "support-bot", "time": NOW, **fields})
    assert payload is not None
    decoded: dict[str, Any] = json.loads(payload)
    return decoded


def notes_for(**fields: Any) -> list[str]:
    return encode_call({"feature": "support-bot", "time": NOW, **fields})[1]


def test_a_full_call_is_encoded_as_the_server_schema_accepts_it() -> None:
    call = encoded(
        call_id="c1",
        status="ok",
        latency_ms=812.5,
        input_tokens=10,
        output_tokens=20,
        cost_usd=0.01,
        model="gpt-4o",
        user="jane",
        input_text="hi",
        attributes={"a": 1, "b": "x", "c": True, "d": 0.5},
        retrieved_doc_ids=("d1", "d2"),
        eval_scores={"faithfulness": 1},
        time_to_first_token_ms=100,
    )

    [parsed] = parse_calls([(1, call)])
    assert parsed.call_id == "c1"
    assert parsed.time == NOW
    assert parsed.attributes == {"a": 1, "b": "x", "c": True, "d": 0.5}
    assert parsed.retrieved_doc_ids == ("d1", "d2")
    assert call["time"] == "2026-03-02T09:00:00+00:00"


def test_times_are_sent_in_utc_and_naive_times_are_taken_as_utc() -> None:
    tokyo = timezone(timedelta(hours=9))
    assert encoded(time=datetime(2026, 3, 2, 18, 0, tzinfo=tokyo))["time"] == (
        "2026-03-02T09:00:00+00:00"
    )
    assert encoded(time=datetime(2026, 3, 2, 9, 0))["time"] == "2026-03-02T09:00:00+00:00"


def test_unset_fields_are_left_out() -> None:
    assert encoded(model=None, attributes={}) == {
        "time": "2026-03-02T09:00:00+00:00",
        "feature": "support-bot",
    }


def test_an_error_type_without_a_status_makes_an_error() -> None:
    assert encoded(error_type="http_503")["status"] == "error"


@pytest.mark.parametrize(
    "feature", ["", "has space", "-leading-dash", "x" * 129, None, 42, "ünïcode"]
)
def test_a_call_with_an_impossible_feature_is_refused_with_a_reason(feature: object) -> None:
    payload, notes = encode_call({"feature": feature, "time": NOW})
    assert payload is None
    assert "feature" in notes[0]


@pytest.mark.parametrize("when", [datetime(1969, 12, 31, tzinfo=UTC), "2026-03-02", None])
def test_a_call_with_an_impossible_time_is_refused(when: object) -> None:
    payload, notes = encode_call({"feature": "support-bot", "time": when})
    assert payload is None
    assert "time" in notes[0]


def test_overlong_texts_and_names_are_cut_to_what_the_server_stores() -> None:
    call = encoded(input_text="x" * 200_001, model=" " + "m" * 300 + " ")
    assert len(call["input_text"]) == 200_000
    assert call["model"] == "m" * 200


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("latency_ms", -1),
        ("latency_ms", math.nan),
        ("latency_ms", "812"),
        ("latency_ms", True),
        ("cost_usd", math.inf),
        ("input_tokens", -3),
        ("input_tokens", 2.5),
        ("input_tokens", "12"),
        ("output_tokens", False),
        ("model", 42),
        ("model", "   "),
        ("input_text", b"bytes"),
        ("retrieved_doc_ids", "d1"),
    ],
)
def test_a_field_of_the_wrong_kind_is_left_out_and_the_call_kept(field: str, value: object) -> None:
    call = encoded(**{field: value})
    assert field not in call
    [parsed] = parse_calls([(1, call)])
    assert parsed.feature == "support-bot"


def test_a_note_names_the_field_and_its_type_but_never_its_value() -> None:
    [note] = notes_for(user=12345678)
    assert "'user'" in note
    assert "int" in note
    assert "12345678" not in note


def test_whole_token_counts_given_as_floats_are_sent_as_integers() -> None:
    assert encoded(output_tokens=12.0)["output_tokens"] == 12


def test_attributes_keep_text_numbers_and_booleans_and_leave_out_the_rest() -> None:
    call = encoded(
        attributes={"ok": "x", "n": 3, "none": None, "obj": object(), "nan": math.nan, "": 1}
    )
    assert call["attributes"] == {"ok": "x", "n": 3}
    parse_calls([(1, call)])


def test_at_most_64_attributes_are_sent() -> None:
    call = encoded(attributes={f"k{n}": n for n in range(70)})
    assert len(call["attributes"]) == 64
    parse_calls([(1, call)])


def test_lone_surrogates_cannot_poison_a_batch() -> None:
    payload, _ = encode_call({"feature": "support-bot", "time": NOW, "input_text": "a\ud800b"})
    assert payload is not None
    assert json.loads(payload)["input_text"] == "a?b"


def test_text_is_sent_as_utf8_not_escaped() -> None:
    payload, _ = encode_call({"feature": "support-bot", "time": NOW, "input_text": "grüß"})
    assert payload is not None
    assert "grüß".encode() in payload
