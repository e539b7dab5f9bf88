"""Who is on call: rotations in local time, daily windows, layers, overrides, and their YAML."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from fireline.config import parse_config
from fireline.errors import ConfigError
from fireline.oncall.schedule import Override, Rotation, Schedule, Window

PARIS = ZoneInfo("Europe/Paris")


def weekly(*people: str, **changes: object) -> Rotation:
    settings: dict[str, object] = {
        "people": people,
        "start": date(2026, 3, 2),  # a Monday
        "shift": timedelta(days=7),
        "handoff": time(9, 0),
        "zone": PARIS,
    }
    settings.update(changes)
    return Rotation(**settings)  # type: ignore[arg-type]


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)  # type: ignore[misc]


def test_the_first_person_is_on_call_from_the_first_handoff_for_one_shift() -> None:
    rotation = weekly("ana", "ben", "chloe")
    found = rotation.shift_at(paris(2026, 3, 4, 15, 0))
    assert found is not None
    assert (found.person, found.since, found.until) == (
        "ana",
        paris(2026, 3, 2, 9, 0),
        paris(2026, 3, 9, 9, 0),
    )


def test_the_handoff_happens_at_the_handoff_time_not_at_midnight() -> None:
    rotation = weekly("ana", "ben")
    before = rotation.shift_at(paris(2026, 3, 9, 8, 59))
    after = rotation.shift_at(paris(2026, 3, 9, 9, 0))
    assert before is not None
    assert before.person == "ana"
    assert after is not None
    assert after.person == "ben"


def test_the_rotation_wraps_around_to_the_first_person() -> None:
    rotation = weekly("ana", "ben", "chloe")
    found = rotation.shift_at(paris(2026, 3, 23, 10, 0))  # the fourth week
    assert found is not None
    assert found.person == "ana"


def test_nobody_is_on_call_before_the_rotation_begins() -> None:
    assert weekly("ana").shift_at(paris(2026, 3, 2, 8, 59)) is None


def test_a_weekly_shift_across_a_daylight_saving_change_still_hands_over_at_nine_local() -> None:
    # Europe/Paris moves to summer time on 2026-03-29: that shift is one hour shorter.
    rotation = weekly("ana", "ben", "chloe", "dan")
    found = rotation.shift_at(paris(2026, 3, 30, 8, 30))
    assert found is not None
    assert found.person == "dan"
    assert found.until == paris(2026, 3, 30, 9, 0)
    assert found.until.astimezone(UTC).hour == 7  # 09:00 CEST, no longer 08:00 UTC
    assert found.until - found.since == timedelta(hours=7 * 24 - 1)


def test_a_twelve_hour_shift_is_an_exact_duration_from_the_first_handoff() -> None:
    rotation = weekly("day", "night", shift=timedelta(hours=12), zone=ZoneInfo("UTC"))
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    found = rotation.shift_at(start + timedelta(hours=13))
    assert found is not None
    assert (found.person, found.since, found.until) == (
        "night",
        start + timedelta(hours=12),
        start + timedelta(hours=24),
    )


def test_a_rotation_with_daily_hours_covers_nobody_outside_them() -> None:
    rotation = weekly("ana", window=Window(time(9, 0), time(17, 0)))
    assert rotation.shift_at(paris(2026, 3, 4, 18, 0)) is None
    inside = rotation.shift_at(paris(2026, 3, 4, 10, 0))
    assert inside is not None
    assert (inside.since, inside.until) == (paris(2026, 3, 4, 9, 0), paris(2026, 3, 4, 17, 0))


def test_daily_hours_may_span_midnight() -> None:
    rotation = weekly("owl", window=Window(time(21, 0), time(9, 0)))
    late = rotation.shift_at(paris(2026, 3, 4, 23, 0))
    early = rotation.shift_at(paris(2026, 3, 5, 3, 0))
    assert late is not None
    assert late.until == paris(2026, 3, 5, 9, 0)
    assert early is not None
    assert early.since == paris(2026, 3, 4, 21, 0)
    assert rotation.shift_at(paris(2026, 3, 5, 12, 0)) is None


def test_a_later_rotation_wins_where_it_covers_and_the_earlier_one_elsewhere() -> None:
    nights = weekly("base")
    days = weekly("daytime", window=Window(time(9, 0), time(17, 0)))
    schedule = Schedule("primary", (nights, days))
    day = schedule.on_call(paris(2026, 3, 4, 12, 0))
    night = schedule.on_call(paris(2026, 3, 4, 22, 0))
    assert day is not None
    assert day.person == "daytime"
    assert night is not None
    assert night.person == "base"


def test_an_override_takes_the_shift_and_the_last_one_added_wins() -> None:
    schedule = Schedule("primary", (weekly("ana", "ben"),))
    first = Override("primary", "zoe", paris(2026, 3, 4, 0, 0), paris(2026, 3, 5, 0, 0))
    second = Override("primary", "yan", paris(2026, 3, 4, 12, 0), paris(2026, 3, 4, 14, 0))
    found = schedule.on_call(paris(2026, 3, 4, 13, 0), [first, second])
    assert found is not None
    assert (found.person, found.source, found.until) == ("yan", "override", paris(2026, 3, 4, 14))
    after = schedule.on_call(paris(2026, 3, 4, 15, 0), [first, second])
    assert after is not None
    assert after.person == "zoe"


def test_a_rotation_shift_ends_where_an_override_begins() -> None:
    schedule = Schedule("primary", (weekly("ana"),))
    later = Override("primary", "zoe", paris(2026, 3, 5, 0, 0), paris(2026, 3, 6, 0, 0))
    found = schedule.on_call(paris(2026, 3, 4, 12, 0), [later])
    assert found is not None
    assert (found.person, found.until) == ("ana", paris(2026, 3, 5, 0, 0))


def test_an_override_of_another_schedule_changes_nothing() -> None:
    schedule = Schedule("primary", (weekly("ana"),))
    other = Override("secondary", "zoe", paris(2026, 3, 4, 0, 0), paris(2026, 3, 5, 0, 0))
    found = schedule.on_call(paris(2026, 3, 4, 12, 0), [other])
    assert found is not None
    assert found.person == "ana"


def test_a_rotation_without_people_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one person"):
        weekly()


# ------------------------------------------------------------ YAML


YAML = """\
oncall:
  schedules:
    primary:
      rotations:
        - people: [ana, ben]
          start: 2026-03-02
          shift: 1w
          handoff: 10:30
          timezone: Europe/Paris
          hours: "08:00-20:00"
      overrides:
        - person: zoe
          start: 2026-03-04T00:00:00+01:00
          end: 2026-03-05T00:00:00+01:00
  roles:
    director: [dee]
"""


def test_a_schedule_in_yaml_becomes_the_same_schedule_in_code() -> None:
    settings = parse_config(YAML).oncall
    schedule = settings.schedule_objects()["primary"]
    rotation = schedule.rotations[0]
    # YAML 1.1 reads an unquoted 10:30 as the number 630; it must still mean half past ten.
    assert rotation.handoff == time(10, 30)
    assert rotation.shift == timedelta(days=7)
    assert rotation.window == Window(time(8, 0), time(20, 0))
    overrides = settings.configured_overrides()
    found = schedule.on_call(paris(2026, 3, 4, 12, 0), overrides)
    assert found is not None
    assert found.person == "zoe"


@pytest.mark.parametrize(
    ("change", "line", "message"),
    [
        (("timezone: Europe/Paris", "timezone: Mars/Olympus"), 9, "unknown time zone"),
        (("shift: 1w", "shift: weekly"), 7, "not a duration"),
        (('hours: "08:00-20:00"', 'hours: "8 to 8"'), 10, "not a daily window"),
        (("start: 2026-03-04T00:00:00+01:00", "start: 2026-03-04T00:00:00"), 13, "time zone"),
        (("end: 2026-03-05T00:00:00+01:00", "end: 2026-03-03T00:00:00+01:00"), 12, "end after"),
        (("people: [ana, ben]", "people: []"), 5, "at least 1"),
    ],
)
def test_a_bad_schedule_is_reported_with_its_file_line_and_problem(
    change: tuple[str, str], line: int, message: str
) -> None:
    text = YAML.replace(*change)
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="fireline.yaml")
    assert caught.value.source == "fireline.yaml"
    assert caught.value.line == line
    assert message in caught.value.message


def test_a_twelve_hour_shift_stays_exactly_twelve_hours_across_a_daylight_saving_change() -> None:
    rotation = weekly("day", "night", shift=timedelta(hours=12))
    found = rotation.shift_at(paris(2026, 3, 29, 12, 0))  # summer time began at 02:00
    assert found is not None
    assert found.until - found.since == timedelta(hours=12)
    assert found.since.astimezone(PARIS).hour == 10  # 09:00 winter time is 10:00 summer time


def test_the_example_in_the_user_guide_is_a_valid_configuration() -> None:
    guide = (Path(__file__).parents[2] / "docs" / "oncall.md").read_text()
    example = guide.split("```yaml\n", 1)[1].split("```", 1)[0]
    settings = parse_config(example, source="docs/oncall.md").oncall
    assert set(settings.schedule_objects()) == {"primary"}
    assert set(settings.policy_objects()) == {"default", "critical"}
