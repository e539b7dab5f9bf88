"""Paging: at every tick, the pages due for open, unacknowledged incidents; acknowledgements."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from fireline.clock import Clock
from fireline.domain.incident import Incident, TimelineEntry
from fireline.errors import IllegalTransition
from fireline.oncall.config import OnCallSettings
from fireline.oncall.escalation import (
    NO_PAGING,
    PageDue,
    PageRecord,
    Policy,
    choose_policy,
    due_pages,
    recipients,
)
from fireline.oncall.links import sign, verify
from fireline.oncall.roster import Roster
from fireline.oncall.store import Escalation, OnCallRepository, Page
from fireline.store.state import StateTx

ACTOR = "oncall:escalation"


@dataclass(frozen=True, slots=True)
class OutgoingPage:
    """What a page says and to whom, handed to the PageSender to deliver."""

    page_id: int
    incident_id: int
    feature: str
    severity: str
    title: str
    tier: int
    person: str
    target: str
    policy: str
    attempt: int
    #: The signed link acknowledging this page: a path, or a URL when `oncall.public_url` is set.
    ack_url: str
    ack_expires_at: datetime
    contact: Mapping[str, str] = field(default_factory=dict)


class PageSender(Protocol):
    """Delivers a page; called inside the tick's transaction, so an outbox can enqueue it
    atomically with the page's record."""

    def __call__(self, tx: StateTx, page: OutgoingPage) -> None: ...


def record_only(tx: StateTx, page: OutgoingPage) -> None:
    """The default sender: the page is recorded (pages table, timeline) and sent nowhere."""


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """The acknowledgement of an incident's paging; `already` when it was acknowledged before."""

    incident_id: int
    at: datetime
    by: str
    via: str
    already: bool = False


class PagingService:
    """Escalates open incidents by their policy until someone acknowledges them."""

    def __init__(
        self,
        settings: OnCallSettings,
        *,
        key: bytes,
        clock: Clock,
        sender: PageSender = record_only,
    ) -> None:
        self.settings = settings
        self.roster = Roster(settings)
        self._key = key
        self._clock = clock
        self._sender = sender
        self._policies = settings.policy_objects()
        self._routes = settings.route_objects()

    def tick(self, tx: StateTx, now: datetime) -> list[OutgoingPage]:
        """Record and send every page due at `now`; return what was sent."""
        if not self.settings.enabled:
            return []
        repo = OnCallRepository(tx.connection)
        overrides = self.roster.all_overrides(repo, ending_after=now)
        schedules = self.roster.schedules
        sent: list[OutgoingPage] = []
        for listed in _open_incidents(tx):
            assert listed.incident_id is not None
            incident = tx.get_incident(listed.incident_id, for_update=True)
            name = self.policy_name(incident)
            escalation = repo.escalation(listed.incident_id)
            if name == NO_PAGING or (escalation and escalation.acknowledged_at):
                continue
            policy = self._policies[name]
            if escalation is None:
                # Timed from when paging began, not from detection: an incident that was
                # open before on-call was set up starts at tier 1, not straight at tier 3.
                escalation = repo.start_escalation(listed.incident_id, name, now=now)
            active = policy.active_tiers(now - escalation.started_at)
            by_tier = {
                tier.level: recipients(
                    tier, now, schedules=schedules, overrides=overrides, roles=self.settings.roles
                )
                for tier in active
            }
            pages = repo.pages(listed.incident_id)
            due = due_pages(
                policy,
                started_at=escalation.started_at,
                now=now,
                recipients_by_tier=by_tier,
                sent=[PageRecord(p.tier, p.key, p.created_at, p.attempts) for p in pages],
            )
            self._escalate(tx, repo, escalation, policy, max(by_tier, default=0), now)
            known = {(p.tier, p.key): p for p in pages}
            for item in due:
                out = self._page(tx, repo, incident, policy, item, known, now)
                if out is not None:
                    self._sender(tx, out)
                    sent.append(out)
        return sent

    def policy_name(self, incident: Incident) -> str:
        """The policy paging for `incident` now (re-read each tick: severity may change)."""
        return choose_policy(
            self._routes, self.settings.default_policy, incident.feature, incident.severity
        )

    def acknowledge(self, tx: StateTx, incident_id: int, *, who: str, via: str) -> Acknowledgement:
        """Stop the incident's paging; acknowledging it again changes nothing."""
        now = self._clock.now()
        incident = tx.get_incident(incident_id, for_update=True)
        repo = OnCallRepository(tx.connection)
        escalation = repo.escalation(incident_id)
        if escalation is not None and escalation.acknowledged_at is not None:
            return _acknowledgement(escalation, already=True)
        if not incident.is_open:
            raise IllegalTransition(
                f"incident {incident_id} is {incident.state}: there is nothing to acknowledge"
            )
        if escalation is None:  # acknowledged before its first page: none will be sent
            repo.start_escalation(incident_id, self.policy_name(incident), now=now)
        repo.acknowledge(incident_id, by=who, via=via, now=now)
        if incident.acknowledged_at is None:
            tx.save_incident(replace(incident, acknowledged_at=now), now=now)
        tx.append_timeline(
            TimelineEntry(
                incident_id,
                now,
                who,
                "acknowledged",
                f"paging acknowledged via {via}",
                {"via": via},
            )
        )
        return Acknowledgement(incident_id, now, who, via)

    def page_of_link(self, tx: StateTx, token: str) -> Page:
        """The page a signed link is for; raise LinkRefused if it is forged or expired."""
        page_id = verify(token, self._key, self._clock.now())
        return OnCallRepository(tx.connection).get_page(page_id)

    def acknowledge_link(self, tx: StateTx, token: str) -> Acknowledgement:
        """Acknowledge with a signed link: the signature, not an API token, is the authority."""
        page = self.page_of_link(tx, token)
        return self.acknowledge(tx, page.incident_id, who=f"link:{page.person}", via="link")

    def status(self, tx: StateTx, incident_id: int) -> tuple[Escalation | None, list[Page]]:
        """An incident's escalation (None if never paged) and its pages."""
        tx.get_incident(incident_id)  # NotFound for an unknown incident
        repo = OnCallRepository(tx.connection)
        return repo.escalation(incident_id), repo.pages(incident_id)

    def _escalate(
        self,
        tx: StateTx,
        repo: OnCallRepository,
        escalation: Escalation,
        policy: Policy,
        tier: int,
        now: datetime,
    ) -> None:
        if tier > escalation.tier:
            minutes = int((now - escalation.started_at) / timedelta(minutes=1))
            message = (
                f"paging with policy '{policy.name}'"
                if escalation.tier == 0
                else f"not acknowledged after {minutes} min: escalated to tier {tier}"
            )
            data = {"policy": policy.name, "tier": tier}
            entry = TimelineEntry(escalation.incident_id, now, ACTOR, "escalated", message, data)
            tx.append_timeline(entry)
        if tier > escalation.tier or policy.name != escalation.policy:
            top = max(tier, escalation.tier)
            repo.update_escalation(escalation.incident_id, policy=policy.name, tier=top, now=now)

    def _page(
        self,
        tx: StateTx,
        repo: OnCallRepository,
        incident: Incident,
        policy: Policy,
        item: PageDue,
        known: Mapping[tuple[int, str], Page],
        now: datetime,
    ) -> OutgoingPage | None:
        """Record one due page; the page to send, or None when there is nobody to page."""
        assert incident.incident_id is not None
        person, target = item.recipient.person, str(item.recipient.target)
        if item.attempt == 1:
            page = repo.add_page(incident.incident_id, item.tier, person, target, now=now)
            # Repeats are counted on the page row, not logged: they would flood the timeline.
            message = (
                f"tier {item.tier}: nobody to page for {target}"
                if person is None
                else f"paged {person} (tier {item.tier}, {target})"
            )
            data = {"page_id": page.page_id, "tier": item.tier, "target": target}
            tx.append_timeline(
                TimelineEntry(incident.incident_id, now, ACTOR, "paged", message, data)
            )
        else:
            page = repo.page_repeated(
                known[(item.tier, item.recipient.key)].page_id, item.attempt, now=now
            )
        if person is None:
            return None
        expires = now + timedelta(hours=self.settings.ack_link_ttl_hours)
        path = f"/ack/{sign(page.page_id, expires, self._key)}"
        base = (self.settings.public_url or "").rstrip("/")
        contact = self.settings.people.get(person)
        return OutgoingPage(
            page_id=page.page_id,
            incident_id=incident.incident_id,
            feature=incident.feature,
            severity=incident.severity.value,
            title=incident.title,
            tier=item.tier,
            person=person,
            target=target,
            policy=policy.name,
            attempt=item.attempt,
            ack_url=base + path,
            ack_expires_at=expires,
            contact={} if contact is None else contact.model_dump(exclude_none=True),
        )


def _open_incidents(tx: StateTx, batch: int = 500) -> Iterator[Incident]:
    offset = 0
    while True:
        found = tx.list_incidents(open_only=True, limit=batch, offset=offset)
        yield from found
        if len(found) < batch:
            return
        offset += batch


def _acknowledgement(escalation: Escalation, *, already: bool) -> Acknowledgement:
    assert escalation.acknowledged_at is not None
    return Acknowledgement(
        escalation.incident_id,
        escalation.acknowledged_at,
        escalation.acknowledged_by or "",
        escalation.acknowledged_via or "",
        already=already,
    )
