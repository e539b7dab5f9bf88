"""The status page and regulatory clocks as one service over the state store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from fireline.clock import Clock
from fireline.domain.incident import TimelineEntry
from fireline.errors import InvalidInput, NotFound, Problem
from fireline.status.config import Component, StatusSettings, regimes_in_force
from fireline.status.regulatory import (
    Regime,
    RegulatoryClock,
    Reminder,
    points_passed,
    reminders_due,
    start_clock,
)
from fireline.status.report import render_report
from fireline.status.store import StatusRepository
from fireline.status.summary import PublicStatus, PublicUpdate, build_summary, public_status
from fireline.store.state import StateStore, StateTx

if TYPE_CHECKING:  # runtime may build this service one day: no import cycle then
    from fireline.runtime import Fireline

#: How far in the future a stated awareness time may lie (clock skew between machines).
_SKEW = timedelta(minutes=5)
#: Open incidents the summary looks at; more at once would not fit a page anyway.
_MAX_OPEN = 500


@dataclass(frozen=True, slots=True)
class ClockView:
    """A clock as listed: the clock, its regime's title, and whether it is overdue now."""

    clock: RegulatoryClock
    title: str
    overdue: bool


class StatusService:
    """Publishes status updates, builds the public summary, runs regulatory clocks."""

    def __init__(self, state: StateStore, clock: Clock, settings: StatusSettings) -> None:
        self._state = state
        self._clock = clock
        self.settings = settings
        self.regimes: dict[str, Regime] = regimes_in_force(settings.regulatory)

    # ------------------------------------------------------------ status page

    def summary(self) -> dict[str, Any]:
        """The Statuspage-compatible summary.json document, as of now."""
        now = self._clock.now()
        with self._state.unit_of_work(read_only=True) as tx:
            repo = StatusRepository(tx.connection)
            found = tx.list_incidents(open_only=True, limit=_MAX_OPEN)
            guards = tx.list_guards()
            ids = [i.incident_id for i in found if i.incident_id is not None]
            updates = repo.updates(ids) if ids else []
            seen = repo.features_seen()
        components = self.settings.components
        if components is None:
            components = [Component(feature=feature) for feature in sorted(seen)]
        return build_summary(
            page=self.settings.page,
            components=components,
            incidents=found,
            guards=guards,
            updates=updates,
            first_seen={f: at for f, at in seen.items() if at is not None},
            now=now,
        )

    def publish(
        self,
        incident_id: int,
        *,
        body: str,
        author: str,
        status: PublicStatus | None = None,
        title: str | None = None,
    ) -> PublicUpdate:
        """Publish an update; without `status`, the one the incident's lifecycle state reads as.

        The update also goes on the incident's timeline, so the record shows what the public
        was told and when.
        """
        now = self._clock.now()
        with self._state.unit_of_work() as tx:
            incident = tx.get_incident(incident_id, for_update=True)
            chosen = status or public_status(incident.state)
            stored = StatusRepository(tx.connection).add_update(
                PublicUpdate(incident_id, chosen, body, now, author, title)
            )
            tx.append_timeline(
                TimelineEntry(
                    incident_id=incident_id,
                    at=now,
                    actor=author,
                    kind="status_update",
                    message=f"published on the status page ({chosen.value}): {body}",
                    data={"update_id": stored.update_id, "status": chosen.value, "title": title},
                )
            )
        return stored

    def updates(self, incident_id: int | None = None, *, limit: int = 100) -> list[PublicUpdate]:
        with self._state.unit_of_work(read_only=True) as tx:
            if incident_id is not None:
                tx.get_incident(incident_id)  # NotFound rather than an empty list
            ids = None if incident_id is None else [incident_id]
            return StatusRepository(tx.connection).updates(ids, limit=limit)

    # ------------------------------------------------------------ regulatory clocks

    def mark_reportable(
        self,
        incident_id: int,
        *,
        regime: str,
        variant: str | None,
        reason: str,
        actor: str,
        aware_at: datetime | None = None,
    ) -> RegulatoryClock:
        """Start the clock of `regime` for an incident, counted from `aware_at` (default now)."""
        now = self._clock.now()
        chosen = self._regime(regime)
        if aware_at is not None and aware_at > now + _SKEW:
            raise InvalidInput([Problem(None, "aware_at", "is in the future")])
        try:
            days = chosen.days_for(variant)
        except ValueError as error:
            field = "regime" if variant is None else "variant"
            raise InvalidInput([Problem(None, field, str(error))]) from None
        with self._state.unit_of_work() as tx:
            tx.get_incident(incident_id, for_update=True)
            repo = StatusRepository(tx.connection)
            if any(
                c.regime == regime for c in repo.clocks(open_only=True, incident_id=incident_id)
            ):
                raise InvalidInput(
                    [
                        Problem(
                            None,
                            "regime",
                            f"incident {incident_id} already has an open '{regime}' clock",
                        )
                    ]
                )
            clock = repo.add_clock(
                start_clock(
                    chosen,
                    incident_id=incident_id,
                    variant=variant,
                    aware_at=aware_at or now,
                    reason=reason,
                    started_by=actor,
                )
            )
            what = chosen.title + (f" ({variant})" if variant else "")
            tx.append_timeline(
                TimelineEntry(
                    incident_id=incident_id,
                    at=now,
                    actor=actor,
                    kind="reportable",
                    message=f"marked reportable: {what}, due {clock.due_at:%Y-%m-%d %H:%M} UTC "
                    f"({days} days); {reason}",
                    data={
                        "clock_id": clock.clock_id,
                        "regime": regime,
                        "variant": variant,
                        "due_at": clock.due_at.isoformat(),
                    },
                )
            )
        return clock

    def clocks(self, *, open_only: bool = True) -> list[ClockView]:
        """Clocks soonest due first, each with whether it is overdue now."""
        now = self._clock.now()
        with self._state.unit_of_work(read_only=True) as tx:
            found = StatusRepository(tx.connection).clocks(open_only=open_only)
        return [ClockView(c, self.title_of(c.regime), c.overdue(now)) for c in found]

    def mark_reported(self, clock_id: int, *, actor: str) -> RegulatoryClock:
        """Stop a clock: the report was sent. Goes on the incident's timeline."""
        now = self._clock.now()
        with self._state.unit_of_work() as tx:
            repo = StatusRepository(tx.connection)
            clock = repo.get_clock(clock_id)
            if not clock.is_open:
                raise InvalidInput([Problem(None, "clock_id", "was already reported")])
            repo.mark_reported(clock_id, at=now, by=actor)
            late = " (late)" if clock.overdue(now) else ""
            tx.append_timeline(
                TimelineEntry(
                    incident_id=clock.incident_id,
                    at=now,
                    actor=actor,
                    kind="reported",
                    message=f"{self.title_of(clock.regime)} sent{late}",
                    data={"clock_id": clock_id, "regime": clock.regime},
                )
            )
            return repo.get_clock(clock_id)

    def take_due_reminders(self, tx: StateTx, now: datetime) -> list[Reminder]:
        """The reminders fallen due by `now`, recorded as sent in `tx`: call it in the tick's
        transaction and queue what it returns in the same one, so none is lost or doubled."""
        points = self.settings.regulatory.reminders
        repo = StatusRepository(tx.connection)
        found: list[Reminder] = []
        for clock in repo.clocks(open_only=True):
            due = reminders_due(clock, points, now)
            passed = points_passed(clock, points, now)
            if set(passed) - set(clock.reminders_sent):
                assert clock.clock_id is not None  # read from the store
                repo.mark_reminded(clock.clock_id, [*clock.reminders_sent, *passed])
            found.extend(due)
        return found

    def report(self, incident_id: int, regime: str | None = None) -> str:
        """The Markdown report draft for an incident, under `regime` or its first clock's."""
        now = self._clock.now()
        with self._state.unit_of_work(read_only=True) as tx:
            incident = tx.get_incident(incident_id)
            clocks = StatusRepository(tx.connection).clocks(incident_id=incident_id)
            alerts = tx.alerts(incident_id=incident_id)
            entries = tx.timeline(incident_id)
        if regime is None:
            if not clocks:
                raise NotFound(
                    f"incident {incident_id} is not marked reportable: name a regime to draft"
                )
            regime = clocks[0].regime
        return render_report(
            regime=self._regime(regime),
            incident=incident,
            clocks=[c for c in clocks if c.regime == regime],
            alerts=alerts,
            timeline=entries,
            now=now,
        )

    def _regime(self, name: str) -> Regime:
        if name not in self.regimes:
            known = ", ".join(sorted(self.regimes))
            raise InvalidInput([Problem(None, "regime", f"unknown regime '{name}' ({known})")])
        return self.regimes[name]

    def title_of(self, regime: str) -> str:
        """A regime's title, or its name when the configuration no longer knows it."""
        found = self.regimes.get(regime)
        return found.title if found is not None else regime


def status_service(instance: Fireline) -> StatusService:
    """The service of a `fireline.runtime.Fireline` deployment (its state, clock, config)."""
    return StatusService(instance.state, instance.clock, instance.config.status)
