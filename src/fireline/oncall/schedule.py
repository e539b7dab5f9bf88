"""Who is on call at a given time: rotations in local time, daily windows, overrides (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Window:
    """A daily span of local wall time, [start, end); one that ends before it starts spans
    midnight (21:00–09:00)."""

    start: time
    end: time

    def contains(self, moment: time) -> bool:
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


@dataclass(frozen=True, slots=True)
class Rotation:
    """People taking turns, each for `shift`, handing over at `handoff` local time.

    Shifts of whole days hand over at the same wall-clock time across daylight-saving
    changes (a shift is then 23 or 25 hours long); shorter shifts are exact durations.
    """

    people: tuple[str, ...]
    start: date
    shift: timedelta = timedelta(days=7)
    handoff: time = time(9, 0)
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    window: Window | None = None

    def __post_init__(self) -> None:
        if not self.people:
            raise ValueError("a rotation needs at least one person")
        if self.shift <= timedelta(0):
            raise ValueError("a rotation's shift must be longer than zero")

    @property
    def begins(self) -> datetime:
        """The first handoff, an aware time in the rotation's zone."""
        return datetime.combine(self.start, self.handoff, tzinfo=self.zone)

    def shift_at(self, at: datetime) -> OnCall | None:
        """The rotation's shift covering `at`, or None before it begins or outside its window."""
        local = at.astimezone(self.zone)
        if self.window is not None and not self.window.contains(local.time()):
            return None
        if self.shift % DAY == timedelta(0):
            turn, since, until = self._calendar_shift(local)
        else:
            turn, since, until = self._exact_shift(at)
        if turn < 0:
            return None
        if self.window is not None:
            since, until = self._clip_to_window(local, since, until)
        person = self.people[turn % len(self.people)]
        # In UTC: arithmetic on two times of one ZoneInfo ignores daylight-saving changes.
        return OnCall(person, since.astimezone(UTC), until.astimezone(UTC), "rotation")

    def _calendar_shift(self, local: datetime) -> tuple[int, datetime, datetime]:
        days = self.shift // DAY
        today = local.date()
        # Before today's handoff, yesterday's shift is still running.
        if local.time() < self.handoff:
            today -= DAY
        turn = (today - self.start).days // days
        first_day = self.start + turn * days * DAY
        since = datetime.combine(first_day, self.handoff, tzinfo=self.zone)
        until = datetime.combine(first_day + days * DAY, self.handoff, tzinfo=self.zone)
        return turn, since, until

    def _exact_shift(self, at: datetime) -> tuple[int, datetime, datetime]:
        begins = self.begins.astimezone(UTC)  # exact durations: add them in UTC
        turn = (at.astimezone(UTC) - begins) // self.shift
        since = begins + turn * self.shift
        return turn, since, since + self.shift

    def _clip_to_window(
        self, local: datetime, since: datetime, until: datetime
    ) -> tuple[datetime, datetime]:
        assert self.window is not None
        day = local.date()
        start = datetime.combine(day, self.window.start, tzinfo=self.zone)
        if start > local:  # a window spanning midnight, seen after midnight
            start -= DAY
        end = datetime.combine(start.date(), self.window.end, tzinfo=self.zone)
        if end <= start:
            end += DAY
        return max(since, start), min(until, end)


@dataclass(frozen=True, slots=True)
class Override:
    """Someone taking a schedule's shift for a while, [start, end)."""

    schedule: str
    person: str
    start: datetime
    end: datetime
    reason: str | None = None
    override_id: int | None = None
    created_by: str | None = None

    def covers(self, at: datetime) -> bool:
        return self.start <= at < self.end


@dataclass(frozen=True, slots=True)
class OnCall:
    """Who is on call, since when, until when, and by what (a rotation or an override)."""

    person: str
    since: datetime
    until: datetime
    source: str


@dataclass(frozen=True, slots=True)
class Schedule:
    """Rotations as layers (a later one wins where it covers), then overrides over them all."""

    name: str
    rotations: tuple[Rotation, ...]
    description: str | None = None

    def on_call(self, at: datetime, overrides: Sequence[Override] = ()) -> OnCall | None:
        """Who is on call at `at`; the override created last wins among those covering it."""
        mine = [o for o in overrides if o.schedule == self.name]
        covering = [o for o in mine if o.covers(at)]
        if covering:
            chosen = covering[-1]
            return OnCall(
                person=chosen.person, since=chosen.start, until=chosen.end, source="override"
            )
        for rotation in reversed(self.rotations):
            found = rotation.shift_at(at)
            if found is not None:
                return _cut_at_next_override(found, at, mine)
        return None


def _cut_at_next_override(found: OnCall, at: datetime, overrides: Sequence[Override]) -> OnCall:
    """End a rotation's shift where an override takes it over."""
    starts = [o.start for o in overrides if at < o.start < found.until]
    if not starts:
        return found
    return OnCall(person=found.person, since=found.since, until=min(starts), source=found.source)
