"""Paging on a real state store (SQLite and PostgreSQL): escalation, repeats, acknowledgement."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from fireline.clock import SimulatedClock
from fireline.config import parse_config
from fireline.domain.incident import Incident, IncidentState, IncidentType
from fireline.domain.severity import Severity
from fireline.errors import IllegalTransition, NotFound
from fireline.oncall.links import LinkRefused
from fireline.oncall.service import OutgoingPage, PagingService
from fireline.store.state import StateStore, StateTx
from tests.conftest import T0

CONFIG = """\
oncall:
  schedules:
    primary:
      rotations:
        - {people: [ana, ben], start: 2026-03-01, timezone: Europe/Paris}
  roles:
    engineering-manager: [em]
    senior-engineer: [sam]
    director: [dee]
  people:
    ana: {email: ana@example.org}
  routes:
    - {features: [music-*], severities: [P3], policy: none}
  public_url: https://fireline.example.org/
"""

MIN = 60.0


@dataclass
class Outbox:
    """A fake sender keeping what it was handed."""

    sent: list[OutgoingPage] = field(default_factory=list)

    def __call__(self, tx: StateTx, page: OutgoingPage) -> None:
        self.sent.append(page)


@pytest.fixture
def outbox() -> Outbox:
    return Outbox()


@pytest.fixture
def paging(clock: SimulatedClock, outbox: Outbox) -> PagingService:
    settings = parse_config(CONFIG).oncall
    return PagingService(settings, key=b"k" * 32, clock=clock, sender=outbox)


@pytest.fixture
def store(state_store: StateStore) -> StateStore:
    """The state store, on SQLite and on PostgreSQL."""
    return state_store


def open_incident(store: StateStore, feature: str = "support-bot", sev: str = "P1") -> int:
    with store.unit_of_work() as tx:
        incident = Incident.detected(
            feature=feature,
            type=IncidentType.AVAILABILITY,
            severity=Severity(sev),
            title="error rate up",
            at=T0,
        )
        added = tx.add_incident(incident, now=T0)
    assert added.incident_id is not None
    return added.incident_id


def tick(store: StateStore, paging: PagingService, clock: SimulatedClock) -> list[str]:
    with store.unit_of_work() as tx:
        sent = paging.tick(tx, clock.now())
    return [f"{p.person}#{p.attempt}" for p in sent]


def test_an_open_incident_pages_the_on_call_engineer_at_the_first_tick(
    store: StateStore, paging: PagingService, clock: SimulatedClock, outbox: Outbox
) -> None:
    incident_id = open_incident(store)
    assert tick(store, paging, clock) == ["ana#1"]
    page = outbox.sent[0]
    assert (page.incident_id, page.tier, page.target, page.policy) == (
        incident_id,
        1,
        "schedule:primary",
        "default",
    )
    assert page.contact == {"email": "ana@example.org"}
    assert page.ack_url.startswith("https://fireline.example.org/ack/")
    with store.unit_of_work() as tx:
        kinds = [(e.kind, e.message) for e in tx.timeline(incident_id)]
    assert ("paged", "paged ana (tier 1, schedule:primary)") in kinds


def test_pages_repeat_until_the_timeout_then_the_next_tier_is_paged(
    store: StateStore, paging: PagingService, clock: SimulatedClock
) -> None:
    incident_id = open_incident(store)
    assert tick(store, paging, clock) == ["ana#1"]
    clock.advance(4 * MIN)
    assert tick(store, paging, clock) == []
    clock.advance(1 * MIN)
    assert tick(store, paging, clock) == ["ana#2"]
    clock.advance(10 * MIN)  # minute 15: tier 2
    assert tick(store, paging, clock) == ["em#1", "sam#1"]
    clock.advance(15 * MIN)  # minute 30: tier 3; nobody holds the role "leadership"
    assert tick(store, paging, clock) == ["dee#1"]
    with store.unit_of_work() as tx:
        escalation, pages = paging.status(tx, incident_id)
        messages = [e.message for e in tx.timeline(incident_id)]
    assert escalation is not None
    assert escalation.tier == 3
    assert [(p.tier, p.person, p.attempts) for p in pages] == [
        (1, "ana", 2),
        (2, "em", 1),
        (2, "sam", 1),
        (3, "dee", 1),
        (3, None, 0),
    ]
    assert "tier 3: nobody to page for role:leadership" in messages
    assert "not acknowledged after 30 min: escalated to tier 3" in messages


def test_an_acknowledgement_stops_repeats_and_escalation(
    store: StateStore, paging: PagingService, clock: SimulatedClock
) -> None:
    incident_id = open_incident(store)
    tick(store, paging, clock)
    clock.advance(2 * MIN)
    with store.unit_of_work() as tx:
        ack = paging.acknowledge(tx, incident_id, who="token:ana", via="api")
    assert (ack.by, ack.via, ack.already) == ("token:ana", "api", False)
    clock.advance(60 * MIN)
    assert tick(store, paging, clock) == []
    with store.unit_of_work() as tx:
        escalation, pages = paging.status(tx, incident_id)
        entries = tx.timeline(incident_id)
    assert escalation is not None
    assert escalation.acknowledged_at == T0 + timedelta(minutes=2)
    assert [p.acknowledged_by for p in pages] == ["token:ana"]
    assert (entries[-1].kind, entries[-1].actor) == ("acknowledged", "token:ana")


def test_acknowledging_twice_keeps_the_first_acknowledgement(
    store: StateStore, paging: PagingService, clock: SimulatedClock
) -> None:
    incident_id = open_incident(store)
    with store.unit_of_work() as tx:
        paging.acknowledge(tx, incident_id, who="cli:ana", via="cli")
    clock.advance(MIN)
    with store.unit_of_work() as tx:
        again = paging.acknowledge(tx, incident_id, who="token:ben", via="api")
    assert (again.by, again.at, again.already) == ("cli:ana", T0, True)


def test_an_incident_acknowledged_before_its_first_tick_is_never_paged(
    store: StateStore, paging: PagingService, clock: SimulatedClock
) -> None:
    incident_id = open_incident(store)
    with store.unit_of_work() as tx:
        paging.acknowledge(tx, incident_id, who="cli:ana", via="cli")
    assert tick(store, paging, clock) == []


def test_resolved_incidents_and_routes_to_no_paging_are_not_paged(
    store: StateStore, paging: PagingService, clock: SimulatedClock
) -> None:
    resolved = open_incident(store)
    with store.unit_of_work() as tx:
        found = tx.get_incident(resolved)
        tx.save_incident(found.transition(IncidentState.RESOLVED, T0), now=T0)
    open_incident(store, feature="music-recs", sev="P3")
    assert tick(store, paging, clock) == []


def test_acknowledging_a_resolved_incident_never_paged_is_refused(
    store: StateStore, paging: PagingService
) -> None:
    resolved = open_incident(store)
    with store.unit_of_work() as tx:
        found = tx.get_incident(resolved)
        tx.save_incident(found.transition(IncidentState.RESOLVED, T0), now=T0)
    with (
        pytest.raises(IllegalTransition, match="nothing to acknowledge"),
        store.unit_of_work() as tx,
    ):
        paging.acknowledge(tx, resolved, who="x", via="api")
    with pytest.raises(NotFound), store.unit_of_work() as tx:
        paging.acknowledge(tx, 999, who="x", via="api")


def test_a_signed_link_acknowledges_as_the_person_it_was_sent_to(
    store: StateStore, paging: PagingService, clock: SimulatedClock, outbox: Outbox
) -> None:
    incident_id = open_incident(store)
    tick(store, paging, clock)
    token = outbox.sent[0].ack_url.rsplit("/", 1)[1]
    with store.unit_of_work() as tx:
        ack = paging.acknowledge_link(tx, token)
    assert (ack.incident_id, ack.by, ack.via) == (incident_id, "link:ana", "link")


def test_a_tampered_or_expired_link_is_refused_and_acknowledges_nothing(
    store: StateStore, paging: PagingService, clock: SimulatedClock, outbox: Outbox
) -> None:
    incident_id = open_incident(store)
    tick(store, paging, clock)
    token = outbox.sent[0].ack_url.rsplit("/", 1)[1]
    page_id, expiry, signature = token.split(".")
    other_page = f"{int(page_id) + 1}.{expiry}.{signature}"
    with pytest.raises(LinkRefused, match="not valid"), store.unit_of_work() as tx:
        paging.acknowledge_link(tx, other_page)
    clock.advance(24 * 3600)
    with pytest.raises(LinkRefused, match="expired"), store.unit_of_work() as tx:
        paging.acknowledge_link(tx, token)
    with store.unit_of_work() as tx:
        escalation, _ = paging.status(tx, incident_id)
    assert escalation is not None
    assert escalation.acknowledged_at is None


def test_a_sender_that_fails_leaves_no_record_of_the_page(
    store: StateStore, paging: PagingService, clock: SimulatedClock
) -> None:
    incident_id = open_incident(store)

    def broken(tx: StateTx, page: OutgoingPage) -> None:
        raise RuntimeError("outbox unavailable")

    failing = PagingService(paging.settings, key=b"k" * 32, clock=clock, sender=broken)
    with pytest.raises(RuntimeError), store.unit_of_work() as tx:
        failing.tick(tx, clock.now())
    with store.unit_of_work() as tx:
        escalation, pages = paging.status(tx, incident_id)
    assert (escalation, pages) == (None, [])
    assert tick(store, paging, clock) == ["ana#1"]  # paged at the next tick instead
