"""Who is on call and the overrides of schedules, from fireline.yaml and the state store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fireline.errors import InvalidInput, NotFound, Problem
from fireline.oncall.config import OnCallSettings
from fireline.oncall.schedule import OnCall, Override, Schedule
from fireline.oncall.store import OnCallRepository
from fireline.store.state import StateTx

#: The longest override accepted; a longer one is a change of rotation, made in the file.
MAX_OVERRIDE = timedelta(days=90)


@dataclass(frozen=True, slots=True)
class ScheduleNow:
    """A schedule and who is on call on it at one time (None: nobody)."""

    schedule: Schedule
    on_call: OnCall | None


class Roster:
    """Schedules from the configuration, overrides from the file and the store."""

    def __init__(self, settings: OnCallSettings) -> None:
        self._settings = settings
        self.schedules = settings.schedule_objects()

    def schedule(self, name: str) -> Schedule:
        found = self.schedules.get(name)
        if found is None:
            listed = ", ".join(sorted(self.schedules)) or "none are configured"
            raise NotFound(f"no schedule named '{name}' ({listed})")
        return found

    def all_overrides(
        self, repo: OnCallRepository, *, ending_after: datetime | None = None
    ) -> list[Override]:
        """The file's overrides, then the stored ones (so one added by the API wins)."""
        configured = [
            o
            for o in self._settings.configured_overrides()
            if ending_after is None or o.end > ending_after
        ]
        return configured + repo.overrides(ending_after=ending_after)

    def on_call(self, tx: StateTx, at: datetime, schedule: str | None = None) -> list[ScheduleNow]:
        """Who is on call at `at`, on one schedule or on each, by name."""
        chosen = [self.schedule(schedule)] if schedule else list(self.schedules.values())
        overrides = self.all_overrides(OnCallRepository(tx.connection), ending_after=at)
        return [ScheduleNow(s, s.on_call(at, overrides)) for s in chosen]

    def overrides(
        self, tx: StateTx, *, now: datetime, schedule: str | None = None, include_past: bool = False
    ) -> list[Override]:
        """Overrides current or to come (with `include_past`, ended ones too), by start."""
        if schedule is not None:
            self.schedule(schedule)
        found = self.all_overrides(
            OnCallRepository(tx.connection), ending_after=None if include_past else now
        )
        mine = [o for o in found if schedule is None or o.schedule == schedule]
        return sorted(mine, key=lambda o: (o.start, o.override_id or 0))

    def add_override(self, tx: StateTx, override: Override, *, by: str, now: datetime) -> Override:
        """Store an override after checking it; raise InvalidInput naming each bad field."""
        problems = []
        if override.schedule not in self.schedules:
            listed = ", ".join(sorted(self.schedules)) or "none are configured"
            message = f"no schedule named '{override.schedule}' (defined: {listed})"
            problems.append(Problem(None, "schedule", message))
        if not override.person.strip():
            problems.append(Problem(None, "person", "must not be empty"))
        if override.end <= override.start:
            problems.append(Problem(None, "end", "must be after start"))
        elif override.end - override.start > MAX_OVERRIDE:
            problems.append(Problem(None, "end", "an override may last 90 days at most"))
        if override.end <= now:
            problems.append(Problem(None, "end", "is in the past: the override would do nothing"))
        if problems:
            raise InvalidInput(problems)
        return OnCallRepository(tx.connection).add_override(override, by=by, now=now)

    def remove_override(self, tx: StateTx, override_id: int, *, by: str, now: datetime) -> Override:
        """Remove a stored override (the file's are removed by editing the file)."""
        return OnCallRepository(tx.connection).remove_override(override_id, by=by, now=now)
