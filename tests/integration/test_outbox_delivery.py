"""The outbox delivers to real receivers on loopback, survives receivers that are down and
restarts of fireline, and each channel's payload matches the service's documented format."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from fireline.api.app import create_app
from fireline.cli import app as cli_app
from fireline.clock import SimulatedClock
from fireline.config import parse_config
from fireline.domain.incident import Incident, IncidentType
from fireline.domain.severity import Severity
from fireline.notify import dispatch
from fireline.notify.config import NotifySettings, Retry
from fireline.notify.message import Event, Message
from fireline.notify.outbox import Outbox, Status, enqueue, retry_delay
from fireline.notify.service import NotifyService
from fireline.notify.slack import SlackNotifier
from fireline.notify.webhook import verify
from fireline.runtime import Fireline
from fireline.settings import Settings
from fireline.store.state import StateStore, sqlite_url
from tests.conftest import T0
from tests.receivers import (
    HttpReceiver,
    SmtpRecorder,
    pagerduty_problems,
    serving_on,
    slack_problems,
    smtp_server,
)
from tests.servers import free_port, serving

SECOND = timedelta(seconds=1)
ENV = {"HOOK_SECRET": "example-secret", "PD_KEY": "0123456789abcdef0123456789abcdef"}


def settings_text(http_url: str, smtp_port: int) -> str:
    return f"""
notifications:
  public_url: https://fireline.example.com
  channels:
    ops-slack: {{type: slack, url: "{http_url}/slack/services/T0/B0/x"}}
    pager: {{type: pagerduty, routing_key_env: PD_KEY, url: "{http_url}/pagerduty/v2/enqueue"}}
    mail: {{type: email, host: 127.0.0.1, port: {smtp_port}, sender: fl@example.com,
            to: [oncall@example.com]}}
    hook: {{type: webhook, url: "{http_url}/hooks/in", secret_env: HOOK_SECRET}}
  routes:
    - channels: [ops-slack, hook]
    - channels: [pager]
      severities: [P0, P1]
      events: [incident.opened, incident.acknowledged, incident.resolved]
    - channels: [mail]
      events: [incident.updated, reminder.update_due]
  people:
    alice: [{{channel: mail, address: alice@example.com}}, {{channel: pager}}]
  retry: {{max_attempts: 4, base_delay_s: 10, max_delay_s: 60}}
"""


@dataclass
class World:
    """Receivers on loopback, a state store on a SQLite file, and the service over them."""

    http: HttpReceiver
    smtp: SmtpRecorder
    http_port: int
    settings: NotifySettings
    store: StateStore
    clock: SimulatedClock
    state_file: Path

    def service(self, store: StateStore | None = None) -> NotifyService:
        service = NotifyService(self.settings, store or self.store, self.clock, env=ENV)
        service.outbox._rng = random.Random(7)
        return service


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    http = HttpReceiver()
    port = free_port()
    with smtp_server() as (smtp, smtp_port):
        text = settings_text(f"http://127.0.0.1:{port}", smtp_port)
        settings = parse_config(text).notifications
        store = StateStore(sqlite_url(tmp_path / "state.db"))
        store.upgrade()
        yield World(http, smtp, port, settings, store, SimulatedClock(T0), tmp_path / "state.db")
        store.dispose()


@pytest.fixture
def receiving(world: World) -> Iterator[World]:
    with serving_on(world.http.app(), world.http_port):
        yield world


def open_incident(store: StateStore, severity: Severity = Severity.P1) -> Incident:
    with store.unit_of_work() as tx:
        return tx.add_incident(
            Incident.detected(
                feature="support-bot",
                type=IncidentType.AVAILABILITY,
                severity=severity,
                title="support-bot error rate up",
                at=T0,
            ),
            now=T0,
        )


def notify(world: World, incident: Incident, event: Event) -> list[str]:
    service = world.service()
    with world.store.unit_of_work() as tx:
        return service.notify(tx, incident, event)


def test_a_message_is_enqueued_only_if_the_incident_change_commits(world: World):
    service = world.service()

    def a_tick_that_fails_after_deciding() -> None:
        with world.store.unit_of_work() as tx:
            incident = tx.add_incident(
                Incident.detected(
                    feature="f", type=IncidentType.QUALITY, severity=Severity.P0, title="t", at=T0
                ),
                now=T0,
            )
            service.notify(tx, incident, Event.INCIDENT_OPENED)
            raise RuntimeError("the tick failed after deciding")

    with pytest.raises(RuntimeError):
        a_tick_that_fails_after_deciding()

    assert service.outbox.list() == []


def test_the_outbox_works_alike_on_sqlite_and_postgresql(state_store: StateStore):
    closed = free_port()
    with state_store.unit_of_work() as tx:
        assert enqueue(tx, "gone", Message(Event.TEST, "t", "b"), "k", now=T0)
        assert not enqueue(tx, "gone", Message(Event.TEST, "t", "b"), "k", now=T0)
        assert enqueue(tx, "down", Message(Event.TEST, "t", "b"), "k", now=T0)
    outbox = Outbox(state_store, {"down": SlackNotifier("down", f"http://127.0.0.1:{closed}/x")})

    report = outbox.deliver_due(T0)

    assert (len(report.dead), len(report.retrying)) == (1, 1)
    by_channel = {e.channel: e for e in outbox.list()}
    assert by_channel["gone"].status is Status.DEAD
    assert by_channel["down"].next_attempt_at > T0
    assert by_channel["down"].created_at == T0


def test_enqueueing_the_same_message_twice_keeps_one(world: World):
    incident = open_incident(world.store)
    message = Message(Event.INCIDENT_OPENED, "t", "b", incident_id=incident.incident_id)
    with world.store.unit_of_work() as tx:
        first = enqueue(tx, "hook", message, "incident:1:opened", now=T0)
        second = enqueue(tx, "hook", message, "incident:1:opened", now=T0)

    assert (first, second) == (True, False)
    assert len(world.service().outbox.list()) == 1


def test_every_routed_channel_gets_the_incident_in_its_documented_format(receiving: World):
    world = receiving
    incident = open_incident(world.store)

    channels = notify(world, incident, Event.INCIDENT_OPENED)
    report = world.service().outbox.deliver_due(T0)

    assert sorted(channels) == ["hook", "ops-slack", "pager"]
    assert len(report.delivered) == 3
    slack = world.http.on("/slack/")[0].json()
    assert slack_problems(slack) == []
    title = "[P1] #1 support-bot error rate up (support-bot, detected)"
    assert slack["blocks"][0]["text"]["text"] == title
    assert "*Who is affected*" in slack["blocks"][1]["text"]["text"]
    pager = world.http.on("/pagerduty/")[0].json()
    assert pagerduty_problems(pager) == []
    assert pager["routing_key"] == ENV["PD_KEY"]
    assert pager["event_action"] == "trigger"
    assert pager["dedup_key"] == "fireline-incident-1"
    assert pager["payload"]["severity"] == "error"  # P1
    assert pager["payload"]["source"] == "fireline"
    assert pager["payload"]["component"] == "support-bot"
    assert pager["payload"]["timestamp"] == T0.isoformat()
    assert pager["links"] == [
        {"href": "https://fireline.example.com/api/incidents/1", "text": "incident"}
    ]


def test_pagerduty_acknowledges_and_resolves_the_alert_it_triggered(receiving: World):
    world = receiving
    incident = open_incident(world.store, Severity.P0)
    for event in (Event.INCIDENT_OPENED, Event.INCIDENT_ACKNOWLEDGED, Event.INCIDENT_RESOLVED):
        world.clock.advance(60)
        notify(world, incident, event)
        world.service().outbox.deliver_due(world.clock.now())

    events = [r.json() for r in world.http.on("/pagerduty/")]
    assert [e["event_action"] for e in events] == ["trigger", "acknowledge", "resolve"]
    assert {e["dedup_key"] for e in events} == {"fireline-incident-1"}
    assert events[0]["payload"]["severity"] == "critical"  # P0
    assert "payload" not in events[1]
    assert all(pagerduty_problems(e) == [] for e in events)


def test_the_webhook_signature_verifies_at_the_receiver_and_only_for_that_body(receiving: World):
    world = receiving
    incident = open_incident(world.store)
    notify(world, incident, Event.INCIDENT_OPENED)

    report = world.service().outbox.deliver_due(T0)

    assert len(report.delivered) == 3  # the receiver answers 401 to a bad signature
    request = world.http.on("/hooks/")[0]
    entry = next(e for e in world.service().outbox.list() if e.channel == "hook")
    assert request.headers["webhook-id"] == entry.idempotency_key
    assert request.json()["type"] == "incident.opened"
    assert verify(ENV["HOOK_SECRET"], request.headers, request.body)
    assert not verify(ENV["HOOK_SECRET"], request.headers, request.body + b" ")
    assert not verify("another-secret", request.headers, request.body)
    stamp = int(request.headers["webhook-timestamp"])
    assert not verify(ENV["HOOK_SECRET"], request.headers, request.body, now=stamp + 301)


def test_a_receiver_that_is_down_gets_the_message_when_it_comes_back(world: World):
    incident = open_incident(world.store)
    notify(world, incident, Event.INCIDENT_OPENED)
    outbox = world.service().outbox

    down = outbox.deliver_due(T0)
    pending = {e.channel: e for e in outbox.list()}

    assert len(down.retrying) == 3
    assert all(e.status is Status.PENDING and e.attempts == 1 for e in pending.values())
    assert all(T0 + 5 * SECOND <= e.next_attempt_at <= T0 + 10 * SECOND for e in pending.values())
    assert "cannot reach the receiver" in pending["hook"].last_error
    assert outbox.deliver_due(T0 + 4 * SECOND).delivered == []  # not due yet
    with serving_on(world.http.app(), world.http_port):
        back = outbox.deliver_due(T0 + 10 * SECOND)

    assert len(back.delivered) == 3
    assert {e.status for e in outbox.list()} == {Status.DELIVERED}
    hook = world.http.on("/hooks/")[0]
    assert hook.headers["webhook-id"] == pending["hook"].idempotency_key


def test_retries_back_off_exponentially_with_jitter_up_to_the_cap():
    policy = Retry(base_delay_s=10, max_delay_s=60)
    rng = random.Random(1)

    delays = [[retry_delay(n, policy, rng) for n in range(1, 7)] for _ in range(200)]

    for attempt, ceiling in enumerate([10, 20, 40, 60, 60, 60]):
        seen = [run[attempt] for run in delays]
        assert min(seen) >= ceiling / 2
        assert max(seen) <= ceiling
        assert len(set(seen)) > 100  # jittered, not in lockstep


def test_a_message_is_dead_after_the_last_attempt_and_can_be_requeued(world: World):
    incident = open_incident(world.store)
    with world.store.unit_of_work() as tx:
        enqueue(tx, "hook", Message(Event.TEST, "t", "b", incident_id=1), "k", now=T0)
    outbox = world.service().outbox
    now = T0
    for _ in range(4):
        outbox.deliver_due(now)
        now += timedelta(minutes=5)

    [entry] = outbox.list(incident_id=incident.incident_id)
    assert (entry.status, entry.attempts) == (Status.DEAD, 4)
    assert outbox.requeue(entry.entry_id, now)
    assert outbox.list()[0].status is Status.PENDING


def test_a_refusal_that_retrying_cannot_help_is_dead_at_once(receiving: World):
    world = receiving
    world.http.fail_with = 400
    with world.store.unit_of_work() as tx:
        enqueue(tx, "ops-slack", Message(Event.TEST, "t", "b"), "k", now=T0)

    report = world.service().outbox.deliver_due(T0)

    assert len(report.dead) == 1
    assert world.service().outbox.list()[0].last_error == "slack: HTTP 400 try later"


def test_a_restart_delivers_what_was_pending(world: World):
    incident = open_incident(world.store)
    notify(world, incident, Event.INCIDENT_OPENED)
    world.service().outbox.deliver_due(T0)  # the receivers are down: all retrying
    world.store.dispose()  # fireline stops

    restarted = StateStore(sqlite_url(world.state_file))
    with serving_on(world.http.app(), world.http_port):
        report = world.service(restarted).outbox.deliver_due(T0 + timedelta(minutes=1))
    restarted.dispose()

    assert len(report.delivered) == 3
    assert len(world.http.requests) == 3


def test_a_crash_in_the_middle_of_a_send_is_retried_after_the_lease(receiving: World):
    world = receiving
    with world.store.unit_of_work() as tx:
        enqueue(tx, "hook", Message(Event.TEST, "t", "b"), "k", now=T0)
    taken = world.service().outbox.take_due(T0)  # then the process dies before sending
    assert len(taken) == 1

    fresh = world.service(StateStore(sqlite_url(world.state_file))).outbox
    assert fresh.deliver_due(T0 + 60 * SECOND).delivered == []  # leased to the dead worker
    report = fresh.deliver_due(T0 + 120 * SECOND)

    assert report.delivered == [taken[0].entry_id]
    assert fresh.list()[0].attempts == 2


def test_a_page_reaches_the_person_on_each_of_their_channels(receiving: World):
    world = receiving
    incident = open_incident(world.store)
    service = world.service()
    ack = "https://fireline.example.com/ack/1?sig=abc"
    with world.store.unit_of_work() as tx:
        channels = service.page(tx, incident, "alice", ack, attempt=1, tier=1)
        service.page(tx, incident, "alice", ack, attempt=1, tier=1)  # the same page again

    service.outbox.deliver_due(T0)

    assert channels == ["mail", "pager"]
    [mail] = world.smtp.mails
    assert mail.recipients == ["alice@example.com"]
    assert mail.message["Subject"].strip().startswith("Page, tier 1: [P1] #1 support-bot")
    assert ack in mail.message.get_content()
    assert mail.message["References"] == "<fireline-incident-1@fireline.invalid>"
    [page] = [r.json() for r in world.http.on("/pagerduty/")]
    assert {"href": ack, "text": "Acknowledge"} in page["links"]


def test_an_overdue_update_reminds_once_per_interval_until_an_update_is_sent(world: World):
    incident = open_incident(world.store)  # P1: every 30 minutes
    service = world.service()

    def remind(minutes: int) -> int:
        with world.store.unit_of_work() as tx:
            found = dispatch.enqueue_due_reminders(
                tx, world.settings, now=T0 + minutes * 60 * SECOND
            )
        return len(found)

    assert remind(29) == 0
    assert remind(31) == remind(40) == 1
    assert len(service.outbox.list(channel="mail")) == 1  # the same reminder, kept once
    world.clock.set(T0 + 45 * 60 * SECOND)
    service.send_update(incident.incident_id)
    assert remind(70) == 0  # the update at 45 restarted the clock
    assert remind(75) == 1
    events = [e.event for e in service.outbox.list(channel="mail")]
    assert events == ["reminder.update_due", "incident.updated", "reminder.update_due"]


def test_the_api_lists_the_outbox_sends_tests_and_renders_templates(receiving: World):
    world = receiving
    config = parse_config(settings_text(f"http://127.0.0.1:{world.http_port}", 1))
    clock = SimulatedClock(T0)
    app = Fireline.in_memory(clock, config=config)
    with app.state.unit_of_work() as tx:
        tx.add_incident(
            Incident.detected(
                feature="support-bot",
                type=IncidentType.QUALITY,
                severity=Severity.P2,
                title="answers drift",
                at=T0,
            ),
            now=T0,
        )
    with serving(create_app(app, require_tokens=False)) as url:
        rendered = httpx.get(f"{url}/api/incidents/1/messages/exec_brief")
        unknown = httpx.get(f"{url}/api/incidents/1/messages/nope")
        sent = httpx.post(f"{url}/api/incidents/1/messages/status_update")
        listed = httpx.get(f"{url}/api/notifications/outbox")
        tested = httpx.post(f"{url}/api/notifications/test/ops-slack")
        refused = httpx.post(f"{url}/api/notifications/test/mail")  # no SMTP on port 1
        missing = httpx.post(f"{url}/api/notifications/test/nope")
    app.close()

    assert rendered.status_code == 200
    assert rendered.json()["title"].startswith("Executive brief: P2 quality incident")
    assert unknown.status_code == 404
    assert sent.json()["channels"] == ["ops-slack", "hook", "mail"]
    assert [e["channel"] for e in listed.json()] == ["mail", "hook", "ops-slack"]
    assert {e["status"] for e in listed.json()} == {"pending"}
    assert tested.json() == {"channel": "ops-slack", "delivered": True, "retryable": None,
                             "error": None}  # fmt: skip
    assert refused.status_code == 502
    assert refused.json()["retryable"] is True
    assert missing.status_code == 404
    assert slack_problems(world.http.on("/slack/")[-1].json()) == []


def test_the_cli_renders_an_incident_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FIRELINE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("FIRELINE_STATE_URL", raising=False)
    monkeypatch.delenv("FIRELINE_CONFIG", raising=False)
    app = Fireline(Settings.resolve(tmp_path, None, None))
    with app.state.unit_of_work() as tx:
        tx.add_incident(
            Incident.detected(
                feature="search",
                type=IncidentType.SAFETY,
                severity=Severity.P0,
                title="PII in answers",
                at=T0,
            ),
            now=T0,
        )
    app.close()

    result = CliRunner().invoke(
        cli_app, ["notify", "render", "1", "--template", "regulatory_report"]
    )
    outbox = CliRunner().invoke(cli_app, ["notify", "outbox"])

    assert result.exit_code == 0, result.output
    assert result.output.startswith("Incident report: fireline incident 1 (search)")
    assert "PII in answers" in result.output
    assert "the outbox is empty" in outbox.output
