"""Severity levels and the response targets they carry."""

from datetime import UTC, datetime, time, timedelta, timezone

import pytest

from fireline.domain.severity import Severity, response_due

MONDAY = 0
FRIDAY, SATURDAY, SUNDAY = 4, 5, 6
TOKYO = timezone(timedelta(hours=9))


def end_of(day: datetime) -> datetime:
    """Midnight at the end of `day`, in `day`'s timezone."""
    return datetime.combine(day.date() + timedelta(days=1), time(0), tzinfo=day.tzinfo)


@pytest.mark.parametrize(
    ("severity", "target"),
    [
        (Severity.P0, "immediate"),
        (Severity.P1, "within 1 hour"),
        (Severity.P2, "within 4 hours"),
        (Severity.P3, "next business day"),
    ],
)
def test_each_severity_carries_its_response_target(severity, target):
    assert severity.response_target == target


def test_a_p0_response_is_due_immediately():
    opened = datetime(2026, 3, 4, 10, 15, tzinfo=UTC)

    assert response_due(Severity.P0, opened) == opened


def test_a_p1_response_is_due_within_one_hour():
    opened = datetime(2026, 3, 4, 10, 15, tzinfo=UTC)

    assert response_due(Severity.P1, opened) == opened + timedelta(hours=1)


def test_a_p2_response_is_due_within_four_hours():
    opened = datetime(2026, 3, 4, 22, 15, tzinfo=UTC)

    assert response_due(Severity.P2, opened) == opened + timedelta(hours=4)


def test_a_p3_opened_on_a_weekday_is_due_by_the_end_of_the_next_day():
    wednesday = datetime(2026, 3, 4, 10, 15, tzinfo=UTC)
    assert wednesday.weekday() == 2

    thursday = wednesday + timedelta(days=1)
    assert response_due(Severity.P3, wednesday) == end_of(thursday)


def test_a_p3_opened_on_a_thursday_is_due_by_the_end_of_friday():
    thursday = datetime(2026, 3, 5, 23, 59, tzinfo=UTC)
    assert thursday.weekday() == 3

    due = response_due(Severity.P3, thursday)

    assert due == end_of(thursday + timedelta(days=1))
    assert (due - timedelta(microseconds=1)).weekday() == FRIDAY


@pytest.mark.parametrize(
    "opened",
    [
        datetime(2026, 3, 6, 0, 1, tzinfo=UTC),  # Friday, just after midnight
        datetime(2026, 3, 6, 17, 30, tzinfo=UTC),  # Friday afternoon
        datetime(2026, 3, 7, 12, 0, tzinfo=UTC),  # Saturday
        datetime(2026, 3, 8, 23, 59, tzinfo=UTC),  # Sunday, just before midnight
    ],
)
def test_a_p3_opened_from_friday_to_sunday_is_due_by_the_end_of_monday(opened):
    assert opened.weekday() in (FRIDAY, SATURDAY, SUNDAY)
    following_monday = opened + timedelta(days=(MONDAY - opened.weekday()) % 7)
    assert following_monday.weekday() == MONDAY

    due = response_due(Severity.P3, opened)

    assert due == end_of(following_monday)
    assert due.time() == time(0)
    assert due.weekday() == MONDAY + 1  # i.e. Tuesday 00:00


def test_a_p3_due_time_is_reckoned_in_the_timezone_it_was_opened_in():
    # Saturday 08:00 in Tokyo is still Friday 23:00 in UTC; the business day is Tokyo's.
    saturday_in_tokyo = datetime(2026, 3, 7, 8, 0, tzinfo=TOKYO)
    assert saturday_in_tokyo.weekday() == SATURDAY

    due = response_due(Severity.P3, saturday_in_tokyo)

    assert due == datetime(2026, 3, 10, 0, 0, tzinfo=TOKYO)
    assert due.utcoffset() == timedelta(hours=9)


def test_ranks_order_severities_from_most_to_least_severe():
    assert [s.rank for s in (Severity.P0, Severity.P1, Severity.P2, Severity.P3)] == [0, 1, 2, 3]
    assert sorted(Severity, key=lambda s: s.rank) == [
        Severity.P0,
        Severity.P1,
        Severity.P2,
        Severity.P3,
    ]


def test_the_most_severe_of_several_is_the_one_with_the_lowest_rank():
    assert min([Severity.P2, Severity.P0, Severity.P3], key=lambda s: s.rank) is Severity.P0


def test_a_more_severe_incident_is_never_due_later_than_a_less_severe_one():
    start = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    for hour in range(0, 14 * 24, 5):  # two weeks, at times of day that drift around the clock
        opened = start + timedelta(hours=hour)
        dues = [response_due(s, opened) for s in sorted(Severity, key=lambda s: s.rank)]
        assert dues == sorted(dues), opened
        assert dues[0] == opened
