"""The notifications service of one deployment, and its background delivery worker."""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Mapping
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING

from fireline.clock import Clock
from fireline.domain.incident import Incident
from fireline.errors import NotFound
from fireline.notify import dispatch
from fireline.notify.base import Notifier
from fireline.notify.config import NotifySettings
from fireline.notify.message import Event, Message
from fireline.notify.outbox import DeliveryReport, Outbox
from fireline.notify.registry import build_notifier
from fireline.notify.templates import Rendered, Templates
from fireline.store.state import StateStore, StateTx

if TYPE_CHECKING:
    from fireline.runtime import Fireline

log = logging.getLogger("fireline.notify")


class NotifyService:
    """Channels, templates and the outbox of one deployment; secrets are read on first send."""

    def __init__(
        self,
        settings: NotifySettings,
        state: StateStore | Fireline,
        clock: Clock,
        *,
        env: Mapping[str, str] = os.environ,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._state_source = state
        self._env = env
        self._notifiers: dict[str, Notifier] = {}
        self._lock = threading.Lock()

    @property
    def state(self) -> StateStore:
        source = self._state_source
        return source if isinstance(source, StateStore) else source.state

    @cached_property
    def templates(self) -> Templates:
        return Templates(self.settings.templates_dir)

    @cached_property
    def outbox(self) -> Outbox:
        return Outbox(lambda: self.state, self.notifier, self.settings.retry)

    def notifier(self, channel: str) -> Notifier:
        """The channel's notifier (NotFound if none; ConfigError if its secret is missing)."""
        settings = self.settings.channels.get(channel)
        if settings is None:
            known = ", ".join(sorted(self.settings.channels)) or "none configured"
            raise NotFound(f"no channel named {channel!r} (known: {known})")
        with self._lock:
            if channel not in self._notifiers:
                self._notifiers[channel] = build_notifier(channel, settings, self._env)
            return self._notifiers[channel]

    def deliver_due(self, *, limit: int = 100) -> DeliveryReport:
        return self.outbox.deliver_due(self.clock.now(), limit=limit)

    def run_round(self) -> DeliveryReport:
        """One round of the worker: enqueue the reminders now due, then deliver."""
        with self.state.unit_of_work() as tx:
            dispatch.enqueue_due_reminders(tx, self.settings, now=self.clock.now())
        return self.deliver_due()

    def send_test(self, channel: str) -> None:
        """Send a test message to `channel` now, bypassing the outbox; DeliveryError if refused."""
        now = self.clock.now()
        message = Message(
            event=Event.TEST,
            title=f"fireline test message to {channel}",
            body="If you can read this, fireline can reach this channel.",
            correlation_key=f"fireline-test-{channel}",
            created_at=now,
            idempotency_key=f"test-{int(now.timestamp())}",
        )
        self.notifier(channel).send(message)

    def render(self, incident_id: int, template: str) -> Rendered:
        """Render `template` for a stored incident as of now."""
        with self.state.unit_of_work(read_only=True) as tx:
            incident = tx.get_incident(incident_id)
            context = dispatch.context_for(
                tx, incident, now=self.clock.now(), settings=self.settings
            )
        return self.templates.render(template, context)

    def notify(
        self, tx: StateTx, incident: Incident, event: Event, *, template: str = "internal"
    ) -> list[str]:
        """Enqueue `event` about `incident` for its routed channels, in the caller's `tx`."""
        return dispatch.notify_incident(
            tx, self.settings, self.templates, incident, event, now=self.clock.now(),
            template=template,
        )  # fmt: skip

    def send_update(self, incident_id: int, template: str = "status_update") -> list[str]:
        """Send an update from `template` to the channels routed incident updates."""
        with self.state.unit_of_work() as tx:
            incident = tx.get_incident(incident_id)
            return self.notify(tx, incident, Event.INCIDENT_UPDATED, template=template)

    def page(
        self,
        tx: StateTx,
        incident: Incident,
        person: str,
        ack_url: str,
        *,
        attempt: int = 1,
        tier: int | None = None,
    ) -> list[str]:
        """Page `person` on their contact channels, in the caller's `tx` (for on-call)."""
        return dispatch.enqueue_page(
            tx, self.settings, self.templates, incident, person, ack_url,
            now=self.clock.now(), attempt=attempt, tier=tier,
        )  # fmt: skip


_services: weakref.WeakKeyDictionary[Fireline, NotifyService] = weakref.WeakKeyDictionary()
_services_lock = threading.Lock()


def notify_service(instance: Fireline) -> NotifyService:
    """The notifications service of a deployment, built once per `Fireline` instance."""
    with _services_lock:
        service = _services.get(instance)
        if service is None:
            service = NotifyService(instance.config.notifications, instance, instance.clock)
            _services[instance] = service
        return service


class DeliveryWorker:
    """Runs `run_round` every `interval` seconds in a thread (for `fireline serve`)."""

    def __init__(self, service: NotifyService, interval: float | None = None) -> None:
        self._service = service
        self._interval = interval or service.settings.deliver_interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fireline-notify", daemon=True)
        self.last_round_at: datetime | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._service.run_round()
                self.last_round_at = self._service.clock.now()
            except Exception:  # the next round retries; nothing is lost from the outbox
                log.exception("notification round failed; retrying at the next round")
