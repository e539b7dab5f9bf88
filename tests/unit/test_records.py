"""Feedback and changes are validated like calls: every row or none, errors by row and field."""

import pytest

from fireline.domain.telemetry import ChangeKind, FeedbackKind
from fireline.errors import InvalidInput
from fireline.ingest.records import parse_changes, parse_feedback

T = "2026-03-02T09:00:00+00:00"


def test_feedback_rows_become_feedback_with_derived_ids():
    [thumbs, report] = parse_feedback(
        [
            (1, {"call_id": "c1", "time": T, "kind": "thumbs_down"}),
            (2, {"call_id": "c1", "time": T, "kind": "report", "comment": "wrong price"}),
        ]
    )
    assert thumbs.kind is FeedbackKind.THUMBS_DOWN
    assert report.comment == "wrong price"
    assert thumbs.feedback_id != report.feedback_id
    assert thumbs.feedback_id.startswith("f_")


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"time": T, "kind": "thumbs_up"}, "call_id"),
        ({"call_id": "c", "time": T, "kind": "meh"}, "kind"),
        ({"call_id": "c", "time": T, "kind": "edit", "value": "far"}, "value"),
        ({"call_id": "c", "time": T, "kind": "edit", "stars": 5}, "stars"),
    ],
)
def test_a_bad_feedback_row_is_named_by_row_and_field(row, field):
    with pytest.raises(InvalidInput) as raised:
        parse_feedback([(1, {"call_id": "ok", "time": T, "kind": "thumbs_up"}), (2, row)])
    [problem] = raised.value.problems
    assert (problem.row, problem.field) == (2, field)


def test_changes_carry_kind_version_and_their_predecessor():
    [change] = parse_changes(
        [
            (
                1,
                {
                    "time": T,
                    "kind": "prompt",
                    "version": "v8",
                    "previous_version": "v7",
                    "feature": "support-bot",
                    "author": "ana",
                },
            )
        ]
    )
    assert change.kind is ChangeKind.PROMPT
    assert (change.version, change.previous_version) == ("v8", "v7")
    assert change.change_id.startswith("d_")


def test_a_change_without_a_version_is_refused():
    with pytest.raises(InvalidInput, match="field 'version'"):
        parse_changes([(1, {"time": T, "kind": "model"})])
