"""The composition root: builds stores and services once, for the API, the CLI and drills."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from functools import cached_property

from fireline.clock import Clock, WallClock
from fireline.config import Config, find_config, load_config
from fireline.detect.engine import DetectionEngine, TickResult
from fireline.domain.guard import ContainmentLevel, Guard
from fireline.domain.incident import GRAVITY, Incident, TimelineEntry
from fireline.errors import NotFound
from fireline.ingest.prepare import CallPreparer, redaction_key
from fireline.ingest.service import IngestService
from fireline.notify.message import Event
from fireline.notify.service import NotifyService, notify_service
from fireline.oncall.service import OutgoingPage, PagingService
from fireline.oncall.wiring import link_key
from fireline.playbooks.library import library
from fireline.respond.actions import IncidentActions
from fireline.respond.breakers import BreakerService
from fireline.respond.containing import POLICY_ACTOR
from fireline.respond.restoring import RestorationService
from fireline.respond.rollback import PinMove
from fireline.respond.service import IncidentService
from fireline.scan.runner import ScanService
from fireline.settings import Settings
from fireline.status.service import StatusService, status_service
from fireline.store.scans import ScanStore
from fireline.store.state import StateStore, StateTx
from fireline.store.telemetry import TelemetryStore


class Fireline:
    """One fireline deployment: its clock, stores and services, opened lazily.

    Stores are opened on first use so that commands that only read incidents never take the
    telemetry store's single-writer lock. Pass `telemetry` and `state` to use other stores
    (tests and drills use in-memory ones).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        clock: Clock | None = None,
        telemetry: TelemetryStore | None = None,
        state: StateStore | None = None,
        lateness_s: int | None = None,
        config: Config | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.clock: Clock = clock or WallClock()
        self._telemetry = telemetry
        self._state = state
        self._config = config
        self._in_memory = False
        self._lateness_s = self.settings.lateness_s if lateness_s is None else lateness_s
        self._tick_lock = threading.Lock()
        self._open_lock = threading.Lock()
        self._state_ready = False

    @classmethod
    def in_memory(
        cls, clock: Clock, *, lateness_s: int = 0, config: Config | None = None
    ) -> Fireline:
        """A deployment that keeps everything in memory (drills, tests)."""
        instance = cls(
            clock=clock,
            telemetry=TelemetryStore(":memory:"),
            state=StateStore("sqlite://"),
            lateness_s=lateness_s,
            config=config or Config(),
        )
        instance._in_memory = True
        return instance

    @property
    def telemetry(self) -> TelemetryStore:
        with self._open_lock:
            if self._telemetry is None:
                self.settings.data_dir.mkdir(parents=True, exist_ok=True)
                self._telemetry = TelemetryStore(self.settings.telemetry_path)
            return self._telemetry

    @property
    def state(self) -> StateStore:
        with self._open_lock:
            if self._state is None:
                if self.settings.state_url is None:
                    self.settings.data_dir.mkdir(parents=True, exist_ok=True)
                self._state = StateStore(self.settings.resolved_state_url)
            if not self._state_ready:
                self._state.upgrade()
                self._state_ready = True
            return self._state

    @cached_property
    def config(self) -> Config:
        """The deployment's configuration file, or the defaults when there is none."""
        if self._config is None:
            path = find_config(self.settings.config_path, self.settings.data_dir)
            self._config = load_config(path) if path is not None else Config()
        return self._config

    @cached_property
    def ingest(self) -> IngestService:
        key = redaction_key(None if self._in_memory else self.settings.data_dir)
        prepare = CallPreparer(self.config.ingest, key)
        return IngestService(
            self.telemetry,
            watermark=self._watermark,
            prepare=prepare,
            redact_text=prepare.redact_text,
            state=self.state,
            clock=self.clock,
        )

    def _watermark(self) -> datetime | None:
        with self.state.unit_of_work(read_only=True) as tx:
            return DetectionEngine.watermark(tx)

    @cached_property
    def incidents(self) -> IncidentService:
        return IncidentService(
            self.clock,
            notify=self._notify,
            triage=self.config.triage,
            containment=self.config.containment,
            playbooks=library(self.config.playbooks.dir),
        )

    @cached_property
    def breakers(self) -> BreakerService:
        return BreakerService(self.config.containment)

    @cached_property
    def restorations(self) -> RestorationService:
        return RestorationService(self.config.containment, self.telemetry)

    def _resolve_by_policy(self, tx: StateTx, incident_id: int, reason: str) -> Incident:
        return self.incidents.resolve(tx, incident_id, actor=POLICY_ACTOR, reason=reason)

    @cached_property
    def actions(self) -> IncidentActions:
        return IncidentActions(self.incidents)

    @contextmanager
    def acting(self) -> Iterator[StateTx]:
        """One transaction for a person's action, taking turns with ticks."""
        with self._tick_lock, self.state.unit_of_work() as tx:
            yield tx

    @cached_property
    def notifications(self) -> NotifyService:
        return notify_service(self)

    @cached_property
    def paging(self) -> PagingService:
        return PagingService(
            self.config.oncall, key=link_key(self), clock=self.clock, sender=self._send_page
        )

    @cached_property
    def status(self) -> StatusService:
        return status_service(self)

    def _notify(self, tx: StateTx, incident: Incident, event: Event) -> None:
        """Tell the channels routed `event` about the incident, in the same transaction."""
        self.notifications.notify(tx, incident, event)

    def _send_page(self, tx: StateTx, page: OutgoingPage) -> None:
        """Page a person through the notifications outbox, in the tick's transaction."""
        incident = tx.get_incident(page.incident_id)
        try:
            self.notifications.page(
                tx, incident, page.person, page.ack_url, attempt=page.attempt, tier=page.tier
            )
        except NotFound as error:  # nobody to reach: on the record, and paging goes on
            tx.append_timeline(
                TimelineEntry(
                    page.incident_id,
                    self.clock.now(),
                    "policy:paging",
                    "page_undeliverable",
                    f"page to {page.person} (tier {page.tier}) not sent: {error}",
                )
            )

    @cached_property
    def engine(self) -> DetectionEngine:
        return DetectionEngine(
            self.telemetry,
            settings=self.config.detection,
            lateness_s=self._lateness_s,
            scanners=[scanner.name for scanner in self.scans.scanners],
            scan_rate=self.config.scanners.rate,
        )

    @cached_property
    def scans(self) -> ScanService:
        return ScanService(ScanStore(self.telemetry), self.config.scanners)

    def tick(self) -> TickResult:
        """Scan the calls not scanned yet, then run detection up to the clock's now and
        respond to what it found, in one transaction."""
        now = self.clock.now()
        # Monitoring tightened: every call of a contained feature is scanned, not a sample.
        self.scans.catch_up(now, every_call_of=self._contained_features())
        with self._tick_lock, self.state.unit_of_work() as tx:
            result = self.engine.tick(now, tx)
            self.incidents.handle(tx, result)
            self._weigh_evidence(tx, now)
            self.breakers.tick(tx, result.observations, now)
            self.restorations.tick(tx, now, self._resolve_by_policy)
            if self.config.oncall.configured:
                self.paging.tick(tx, now)
            for reminder in self.status.take_due_reminders(tx, now):
                tx.append_timeline(
                    TimelineEntry(
                        reminder.clock.incident_id,
                        now,
                        "policy:regulatory",
                        "regulatory_reminder",
                        reminder.message(now),
                        {"regime": reminder.clock.regime, "overdue": reminder.overdue},
                    )
                )
                incident = tx.get_incident(reminder.clock.incident_id)
                self._notify(tx, incident, Event.UPDATE_DUE)
        return result

    def _weigh_evidence(self, tx: StateTx, now: datetime) -> None:
        """Graver harm found among an open incident's own calls joins it as an alert."""
        from fireline.investigate import investigator_for
        from fireline.respond.evidence import graver_evidence

        investigator = investigator_for(self)
        for incident in tx.list_incidents(open_only=True, limit=50):
            if incident.type is GRAVITY[0] or incident.incident_id is None:
                continue
            for alert in graver_evidence(investigator, tx, incident, now):
                self.incidents.on_alert(tx, alert)

    def _contained_features(self) -> list[str]:
        if self.config.scanners.rate >= 1.0:
            return []  # every call is scanned anyway
        with self.state.unit_of_work(read_only=True) as tx:
            return [g.feature for g in tx.list_guards(active_only=True)]

    @contextmanager
    def responding(self) -> Iterator[StateTx]:
        """One state transaction that no tick or resolve interleaves with: for alert sources
        outside the detection engine (Alertmanager) to act on incidents."""
        with self._tick_lock, self.state.unit_of_work() as tx:
            yield tx

    def with_fallback(self, guard: Guard) -> Guard:
        """`guard` carrying its feature's fallback route from configuration."""
        route = self.config.containment.fallback_for(guard.feature)
        return replace(guard, fallback=route) if route else guard

    def guards(self, *, active_only: bool = False) -> list[Guard]:
        """Every feature's guard (those above level 0 with `active_only`), with fallbacks."""
        with self.state.unit_of_work(read_only=True) as tx:
            return [self.with_fallback(g) for g in tx.list_guards(active_only=active_only)]

    def guard(self, feature: str) -> Guard:
        """The feature's guard; a full shutdown (level 5) of any feature holds every feature."""
        return self.with_fallback(self._own_guard(feature))

    def _own_guard(self, feature: str) -> Guard:
        with self.state.unit_of_work(read_only=True) as tx:
            own = tx.get_guard(feature)
            if own.level >= ContainmentLevel.FULL_SHUTDOWN:
                return own
            for other in tx.list_guards(active_only=True):
                if other.level >= ContainmentLevel.FULL_SHUTDOWN:
                    return replace(
                        own,
                        level=ContainmentLevel.FULL_SHUTDOWN,
                        reason=f"full shutdown set on {other.feature}: {other.reason}",
                        probe_share=0.0,
                        set_by=other.set_by,
                        updated_at=other.updated_at,
                        # A full shutdown holds every request: no segment, no restoration.
                        segment={},
                        restoration=None,
                    )
            return own

    def list_incidents(
        self, *, open_only: bool = False, limit: int = 100, offset: int = 0
    ) -> list[Incident]:
        with self.state.unit_of_work(read_only=True) as tx:
            return tx.list_incidents(open_only=open_only, limit=limit, offset=offset)

    def pin(self, move: PinMove, feature: str, kind: str, *, actor: str, reason: str) -> Guard:
        """Roll a feature's `kind` back (`roll_back`) or forward (`roll_forward`) by a
        person, in one transaction taking turns with ticks."""
        with self.acting() as tx:
            return move(
                tx,
                feature,
                kind,
                actor=actor,
                reason=reason,
                now=self.clock.now(),
                min_healthy_minutes=self.config.containment.rollback.min_healthy_minutes,
            )

    def resolve(self, incident_id: int, *, actor: str, reason: str) -> Incident:
        # Under the tick lock: a tick deciding on this incident must not interleave with it.
        with self._tick_lock, self.state.unit_of_work() as tx:
            return self.incidents.resolve(tx, incident_id, actor=actor, reason=reason)

    def close(self) -> None:
        with self._tick_lock:  # let a running tick finish before its stores go
            if self._telemetry is not None:
                self._telemetry.close()
            if self._state is not None:
                self._state.dispose()
