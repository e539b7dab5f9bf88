"""The response loop wired end to end: an outage opens an incident, on-call is paged through
the notifications outbox to a real receiver on loopback, and the signed link stops the pages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from fireline.api.app import create_app
from fireline.clock import SimulatedClock
from fireline.config import parse_config
from fireline.runtime import Fireline
from fireline.settings import Settings
from tests.conftest import T0
from tests.integration.test_loop import healthy_minutes, send_minute
from tests.receivers import HttpReceiver, verify_standard_webhook
from tests.servers import serving

SECRET = "example-secret"


@pytest.fixture
def receiver() -> Iterator[tuple[HttpReceiver, str]]:
    found = HttpReceiver(webhook_secret=SECRET)
    with serving(found.app()) as url:
        yield found, url


@pytest.fixture
def deployment(
    tmp_path: Path, receiver: tuple[HttpReceiver, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Fireline, SimulatedClock]]:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    config = parse_config(
        f"""
oncall:
  schedules:
    primary:
      rotations:
        - {{people: [ana], start: 2026-03-01, shift: 1w, handoff: "09:00", timezone: UTC}}
notifications:
  channels:
    hook: {{type: webhook, url: "{receiver[1]}/hooks/in", secret_env: HOOK_SECRET}}
  routes:
    - channels: [hook]
  people:
    ana: [{{channel: hook}}]
"""
    )
    clock = SimulatedClock(T0)
    app = Fireline(Settings(data_dir=tmp_path), clock=clock, lateness_s=0, config=config)
    yield app, clock
    app.close()


def test_an_outage_pages_the_on_call_engineer_until_the_signed_link_acknowledges_it(
    deployment: tuple[Fireline, SimulatedClock], receiver: tuple[HttpReceiver, str]
) -> None:
    app, clock = deployment
    hook, _ = receiver
    rng = np.random.default_rng(7)
    healthy_minutes(app, clock, rng, 60, tick_each=True)
    for _ in range(3):
        send_minute(app, clock, rng, 0.6)
        app.tick()

    [incident] = app.list_incidents()
    app.notifications.deliver_due()
    bodies = [r.json() for r in hook.on("/hooks/")]
    assert all(verify_standard_webhook(SECRET, r.headers, r.body) for r in hook.on("/hooks/"))
    events = [body["type"] for body in bodies]
    assert "incident.opened" in events
    assert "page" in events
    page = next(body["data"] for body in bodies if body["type"] == "page")
    ack_link = next(link["href"] for link in page["links"] if "/ack/" in link["href"])

    with serving(create_app(app)) as api, httpx.Client(base_url=api) as client:
        answer = client.post(ack_link, headers={"Accept": "application/json"})
    assert answer.status_code == 200, answer.text

    pages_before = len([b for b in bodies if b["type"] == "page"])
    clock.advance(30 * 60)
    app.tick()
    app.notifications.deliver_due()
    pages_after = len([r for r in hook.on("/hooks/") if r.json()["type"] == "page"])
    assert pages_after == pages_before  # acknowledged: no repeat, no escalation
    assert incident.incident_id is not None
    with app.state.unit_of_work(read_only=True) as tx:
        kinds = [entry.kind for entry in tx.timeline(incident.incident_id)]
    assert any("ack" in kind for kind in kinds), kinds
    [acknowledged] = app.list_incidents()
    assert acknowledged.acknowledged_at is not None  # the basis of MTTA
