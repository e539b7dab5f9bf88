"""Validating raw call rows into domain calls, with errors that name the row and the field."""

from datetime import UTC, datetime, timedelta

import pytest

from fireline.domain.telemetry import CallStatus
from fireline.errors import InvalidInput, PayloadTooLarge
from fireline.ingest.jsonl import read_jsonl
from fireline.ingest.schema import parse_calls

NOON = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def a_row(**overrides):
    row = {"call_id": "call-1", "time": "2026-01-01T12:00:00+00:00", "feature": "support-bot"}
    row.update(overrides)
    return {k: v for k, v in row.items() if v is not None}


def numbered(*rows):
    return list(enumerate(rows, start=1))


def rejection(rows, **kwargs) -> InvalidInput:
    with pytest.raises(InvalidInput) as raised:
        parse_calls(rows, **kwargs)
    return raised.value


def test_a_valid_row_becomes_a_call():
    [call] = parse_calls(numbered(a_row(latency_ms=812.5, model="gpt-x", input_tokens=12)))

    assert call.call_id == "call-1"
    assert call.feature == "support-bot"
    assert call.time == NOON
    assert call.status is CallStatus.OK
    assert not call.failed
    assert call.latency_ms == 812.5
    assert call.model == "gpt-x"
    assert call.input_tokens == 12


def test_a_time_with_an_offset_becomes_the_same_instant_in_utc():
    [call] = parse_calls(numbered(a_row(time="2026-01-01T14:00:00+02:00")))

    assert call.time == NOON
    assert call.time.utcoffset() == timedelta(0)


def test_a_time_given_as_epoch_seconds_becomes_that_instant_in_utc():
    epoch_seconds = (NOON - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()

    [call] = parse_calls(numbered(a_row(time=epoch_seconds)))

    assert call.time == NOON
    assert call.time.utcoffset() == timedelta(0)


def test_a_time_without_an_offset_is_taken_to_be_utc():
    [call] = parse_calls(numbered(a_row(time="2026-01-01T12:00:00")))

    assert call.time == NOON
    assert call.time.utcoffset() == timedelta(0)


def test_a_call_with_an_error_type_is_an_error_unless_it_says_otherwise():
    [call] = parse_calls(numbered(a_row(error_type="rate_limited")))

    assert call.status is CallStatus.ERROR
    assert call.failed
    assert call.error_type == "rate_limited"


def test_an_explicit_status_is_kept():
    failed, ok = parse_calls(numbered(a_row(status="error"), a_row(call_id="call-2", status="ok")))

    assert failed.status is CallStatus.ERROR
    assert ok.status is CallStatus.OK


def test_valid_rows_keep_their_order():
    calls = parse_calls(numbered(*(a_row(call_id=f"call-{i}") for i in range(5))))

    assert [c.call_id for c in calls] == [f"call-{i}" for i in range(5)]


@pytest.mark.parametrize(
    ("bad_row", "field", "words"),
    [
        (a_row(feature=None), "feature", "required"),
        (a_row(time="yesterday"), "time", "datetime"),
        (a_row(colour="red"), "colour", "unknown field"),
        (a_row(latency_ms=-1), "latency_ms", "greater than or equal to 0"),
        (a_row(feature="has spaces"), "feature", "letters, digits"),
    ],
    ids=["missing feature", "bad time", "unknown field", "negative latency", "bad feature name"],
)
def test_a_bad_row_is_rejected_naming_its_row_and_field(bad_row, field, words):
    error = rejection([(1, a_row()), (7, bad_row)])

    assert len(error.problems) == 1
    [problem] = error.problems
    assert problem.row == 7
    assert problem.field == field
    assert words in problem.message
    assert "row 7" in str(error)
    assert f"field '{field}'" in str(error)


@pytest.mark.parametrize(
    ("raw", "kind"),
    [([1, 2], "an array"), ("a call", "a string"), (None, "null"), (42, "a number")],
    ids=["array", "string", "null", "number"],
)
def test_a_row_that_is_not_an_object_is_rejected_naming_its_row(raw, kind):
    error = rejection([(1, a_row()), (3, raw)])

    [problem] = error.problems
    assert problem.row == 3
    assert problem.field is None
    assert kind in problem.message
    assert "row 3" in str(error)


def test_the_source_is_named_in_the_message():
    error = rejection([(2, a_row(time="yesterday"))], source="calls.jsonl")

    assert error.source == "calls.jsonl"
    assert str(error).startswith("calls.jsonl: row 2")


def test_every_bad_row_is_reported_not_just_the_first():
    rows = [
        (1, a_row(colour="red")),
        (2, a_row()),
        (3, "not an object"),
        (4, a_row(latency_ms=-5)),
    ]

    error = rejection(rows)

    assert [(p.row, p.field) for p in error.problems] == [
        (1, "colour"),
        (3, None),
        (4, "latency_ms"),
    ]
    assert "and 2 more problems" in str(error)


def test_every_problem_of_one_row_is_reported():
    error = rejection(numbered(a_row(time="yesterday", feature=None, colour="red")))

    assert {(p.row, p.field) for p in error.problems} == {
        (1, "time"),
        (1, "feature"),
        (1, "colour"),
    }


def test_one_bad_row_rejects_the_whole_batch():
    rows = numbered(a_row(), a_row(call_id="call-2", latency_ms=-1), a_row(call_id="call-3"))

    with pytest.raises(InvalidInput):
        parse_calls(rows)


def test_a_batch_above_the_row_limit_is_too_large():
    rows = numbered(*(a_row(call_id=f"call-{i}") for i in range(4)))

    with pytest.raises(PayloadTooLarge) as raised:
        parse_calls(rows, max_rows=3)

    assert isinstance(raised.value, InvalidInput)
    assert raised.value.problems[0].row == 4
    assert "3" in str(raised.value)


def test_a_batch_at_the_row_limit_is_accepted():
    rows = numbered(*(a_row(call_id=f"call-{i}") for i in range(3)))

    assert len(parse_calls(rows, max_rows=3)) == 3


def test_the_row_limit_can_be_lifted():
    rows = numbered(*(a_row(call_id=f"call-{i}") for i in range(4)))

    assert len(parse_calls(rows, max_rows=None)) == 4


def test_a_call_without_an_id_resent_at_the_same_place_gets_the_same_id():
    row = a_row(call_id=None, latency_ms=120)

    [first] = parse_calls([(3, row)])
    # The same batch sent again (keys in any order) derives the same id ...
    [again] = parse_calls([(3, dict(reversed(list(row.items()))))])

    assert first.call_id
    assert first.call_id == again.call_id


def test_identical_calls_without_ids_at_different_places_stay_distinct():
    row = a_row(call_id=None, latency_ms=120)

    calls = parse_calls([(1, row), (2, dict(row))])

    assert calls[0].call_id != calls[1].call_id


def test_calls_without_ids_that_differ_get_different_ids():
    rows = numbered(
        a_row(call_id=None, latency_ms=120),
        a_row(call_id=None, latency_ms=121),
        a_row(call_id=None, latency_ms=120, time="2026-01-01T12:00:01+00:00"),
        a_row(call_id=None, latency_ms=120, feature="search"),
    )

    calls = parse_calls(rows)

    assert len({c.call_id for c in calls}) == len(rows)


def test_a_given_call_id_is_kept_rather_than_derived():
    [call] = parse_calls(numbered(a_row(call_id="abc-123")))

    assert call.call_id == "abc-123"


# ---------------------------------------------------------------- JSONL files


def test_jsonl_rows_are_numbered_by_their_line_in_the_file(tmp_path):
    path = tmp_path / "calls.jsonl"
    path.write_text('{"n": 1}\n\n   \n{"n": 2}\r\n\n{"n": 3}\n')

    rows = list(read_jsonl(path))

    assert rows == [(1, {"n": 1}), (4, {"n": 2}), (6, {"n": 3})]


def test_an_empty_jsonl_file_has_no_rows(tmp_path):
    path = tmp_path / "calls.jsonl"
    path.write_text("\n\n")

    assert list(read_jsonl(path)) == []


def test_invalid_json_is_rejected_naming_its_line(tmp_path):
    path = tmp_path / "calls.jsonl"
    path.write_text('{"n": 1}\n\n{"n": \n{"n": 4}\n')

    with pytest.raises(InvalidInput) as raised:
        list(read_jsonl(path))

    [problem] = raised.value.problems
    assert problem.row == 3
    assert "not valid JSON" in problem.message
    assert "line 3" in str(raised.value)
    assert str(path) in str(raised.value)


def test_bytes_that_are_not_text_are_rejected_naming_their_line(tmp_path):
    path = tmp_path / "calls.jsonl"
    path.write_bytes(b'{"n": 1}\n"\xff\xfe"\n')

    with pytest.raises(InvalidInput) as raised:
        list(read_jsonl(path))

    assert raised.value.problems[0].row == 2


def test_a_bad_call_in_a_jsonl_file_is_reported_at_its_line(tmp_path):
    path = tmp_path / "calls.jsonl"
    good = '{"time": "2026-01-01T12:00:00Z", "feature": "support-bot"}'
    bad = '{"time": "2026-01-01T12:00:00Z", "feature": "support-bot", "latency_ms": -3}'
    path.write_text(f"{good}\n\n{good}\n{bad}\n")

    error = rejection(read_jsonl(path), source=str(path))

    [problem] = error.problems
    assert (problem.row, problem.field) == (4, "latency_ms")
