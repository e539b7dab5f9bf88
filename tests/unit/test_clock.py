"""Clocks: simulated time only moves forward, and every clock speaks aware UTC."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from fireline.clock import SimulatedClock, WallClock, as_utc

NEW_YEAR = datetime(2026, 1, 1, tzinfo=UTC)
TOKYO = timezone(timedelta(hours=9))


def test_a_simulated_clock_starts_where_it_is_told():
    clock = SimulatedClock(NEW_YEAR)

    assert clock.now() == NEW_YEAR


def test_advancing_a_simulated_clock_moves_it_forward_by_that_many_seconds():
    clock = SimulatedClock(NEW_YEAR)

    returned = clock.advance(90)

    assert returned == NEW_YEAR + timedelta(minutes=1, seconds=30)
    assert clock.now() == returned


def test_advances_add_up():
    clock = SimulatedClock(NEW_YEAR)

    clock.advance(30)
    clock.advance(0.5)
    clock.advance(3600)

    assert clock.now() == NEW_YEAR + timedelta(seconds=3630.5)


def test_advancing_by_zero_seconds_is_allowed_and_changes_nothing():
    clock = SimulatedClock(NEW_YEAR)

    clock.advance(0)

    assert clock.now() == NEW_YEAR


def test_a_simulated_clock_cannot_be_advanced_backwards():
    clock = SimulatedClock(NEW_YEAR)

    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)

    assert clock.now() == NEW_YEAR


def test_setting_a_simulated_clock_moves_it_to_that_time():
    clock = SimulatedClock(NEW_YEAR)
    later = NEW_YEAR + timedelta(days=3, hours=2)

    returned = clock.set(later)

    assert returned == later
    assert clock.now() == later


def test_setting_a_simulated_clock_to_the_current_time_is_allowed():
    clock = SimulatedClock(NEW_YEAR)

    clock.set(NEW_YEAR)

    assert clock.now() == NEW_YEAR


def test_a_simulated_clock_cannot_be_set_into_the_past():
    clock = SimulatedClock(NEW_YEAR)

    with pytest.raises(ValueError, match="backwards"):
        clock.set(NEW_YEAR - timedelta(microseconds=1))

    assert clock.now() == NEW_YEAR


def test_a_simulated_clock_compares_instants_not_wall_times_when_set():
    clock = SimulatedClock(NEW_YEAR)
    # 08:00 in Tokyo on New Year's Day is 23:00 UTC the day before: in the past.
    earlier_in_tokyo = datetime(2026, 1, 1, 8, 0, tzinfo=TOKYO)

    with pytest.raises(ValueError, match="backwards"):
        clock.set(earlier_in_tokyo)


def test_a_simulated_clock_reports_utc_even_when_started_or_set_in_another_zone():
    clock = SimulatedClock(datetime(2026, 1, 1, 9, 0, tzinfo=TOKYO))

    assert clock.now() == NEW_YEAR
    assert clock.now().utcoffset() == timedelta(0)

    clock.set(datetime(2026, 1, 1, 10, 0, tzinfo=TOKYO))

    assert clock.now() == NEW_YEAR + timedelta(hours=1)
    assert clock.now().utcoffset() == timedelta(0)


def test_a_simulated_clock_takes_naive_times_to_be_utc():
    clock = SimulatedClock(datetime(2026, 1, 1))

    assert clock.now() == NEW_YEAR
    assert clock.now().tzinfo is not None

    clock.set(datetime(2026, 1, 1, 12, 0))

    assert clock.now() == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_as_utc_takes_a_naive_time_to_be_utc_keeping_its_wall_time():
    naive = datetime(2026, 7, 1, 12, 34, 56, 789)

    converted = as_utc(naive)

    assert converted.utcoffset() == timedelta(0)
    assert converted.replace(tzinfo=None) == naive


def test_as_utc_keeps_the_instant_of_an_aware_time_in_another_zone():
    in_tokyo = datetime(2026, 7, 1, 9, 0, tzinfo=TOKYO)

    converted = as_utc(in_tokyo)

    assert converted == in_tokyo
    assert converted.utcoffset() == timedelta(0)
    assert (converted.day, converted.hour) == (1, 0)


def test_as_utc_leaves_a_utc_time_unchanged():
    assert as_utc(NEW_YEAR) == NEW_YEAR
    assert as_utc(NEW_YEAR).utcoffset() == timedelta(0)


def test_the_wall_clock_tells_the_current_time_as_aware_utc():
    before = datetime.now(UTC)

    now = WallClock().now()

    after = datetime.now(UTC)
    assert now.tzinfo is not None
    assert now.utcoffset() == timedelta(0)
    assert before <= now <= after
