"""On-call over real HTTP (uvicorn on loopback, httpx): schedules, overrides, pages, acks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from fireline.api.app import create_app
from fireline.clock import SimulatedClock
from fireline.config import parse_config
from fireline.domain.access import Role
from fireline.domain.incident import Incident, IncidentType
from fireline.domain.severity import Severity
from fireline.oncall.service import OutgoingPage
from fireline.oncall.wiring import paging_for
from fireline.runtime import Fireline
from fireline.store.state import StateTx
from fireline.tokens import issue_token
from tests.conftest import T0
from tests.servers import serving

# T0 is Monday 2026-03-02 09:00 UTC: ana's first week began on Sunday at 09:00 Paris time.
CONFIG = """\
oncall:
  schedules:
    primary:
      rotations:
        - {people: [ana, ben], start: 2026-03-01, timezone: Europe/Paris}
  roles:
    engineering-manager: [em]
"""


@dataclass
class Outbox:
    """A fake sender keeping what it was handed."""

    sent: list[OutgoingPage] = field(default_factory=list)

    def __call__(self, tx: StateTx, page: OutgoingPage) -> None:
        self.sent.append(page)


@dataclass
class Site:
    app: Fireline
    clock: SimulatedClock
    url: str
    outbox: Outbox
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, role: Role | None) -> httpx.Client:
        """A client with a token of `role` (None: without a token), closed with the site."""
        headers = {}
        if role is not None:
            name = f"{role}-{len(self.clients)}"
            token = issue_token(self.app.state, name, role, now=T0)
            headers["Authorization"] = f"Bearer {token}"
        http = httpx.Client(base_url=self.url, headers=headers)
        self.clients.append(http)
        return http

    def incident(self) -> int:
        with self.app.state.unit_of_work() as tx:
            added = tx.add_incident(
                Incident.detected(
                    feature="support-bot",
                    type=IncidentType.AVAILABILITY,
                    severity=Severity.P1,
                    title="error rate <b>up</b>",
                    at=self.clock.now(),
                ),
                now=self.clock.now(),
            )
        assert added.incident_id is not None
        return added.incident_id

    def tick(self) -> list[OutgoingPage]:
        with self.app.state.unit_of_work() as tx:
            return paging_for(self.app, self.outbox).tick(tx, self.clock.now())


@pytest.fixture
def site() -> Iterator[Site]:
    clock = SimulatedClock(T0)
    app = Fireline.in_memory(clock, config=parse_config(CONFIG))
    with serving(create_app(app)) as url:
        built = Site(app, clock, url, Outbox())
        yield built
        for http in built.clients:
            http.close()
    app.close()


@pytest.fixture
def responder(site: Site) -> httpx.Client:
    return site.client(Role.RESPONDER)


@pytest.fixture
def viewer(site: Site) -> httpx.Client:
    return site.client(Role.VIEWER)


def on_call(http: httpx.Client) -> str | None:
    response = http.get("/api/oncall/now", params={"schedule": "primary"})
    assert response.status_code == 200
    person: str | None = response.json()[0]["person"]
    return person


def test_who_is_on_call_follows_the_rotation_and_an_override_added_then_removed(
    responder: httpx.Client, site: Site
) -> None:
    assert on_call(responder) == "ana"
    added = responder.post(
        "/api/oncall/overrides",
        json={
            "schedule": "primary",
            "person": "zoe",
            "start": "2026-03-02T08:00:00Z",
            "end": "2026-03-02T20:00:00+01:00",
            "reason": "ana is at the dentist",
        },
    )
    assert added.status_code == 201
    assert added.json()["created_by"].startswith("token:responder")
    assert on_call(responder) == "zoe"
    listed = responder.get("/api/oncall/overrides").json()
    assert [o["person"] for o in listed] == ["zoe"]
    removed = responder.delete(f"/api/oncall/overrides/{added.json()['id']}")
    assert removed.status_code == 200
    assert on_call(responder) == "ana"
    assert responder.get("/api/oncall/overrides").json() == []
    assert responder.delete(f"/api/oncall/overrides/{added.json()['id']}").status_code == 404


def test_schedules_list_their_rotations_and_who_is_on_call(viewer: httpx.Client) -> None:
    response = viewer.get("/api/oncall/schedules")
    assert response.status_code == 200
    [schedule] = response.json()
    assert schedule["name"] == "primary"
    assert schedule["rotations"][0]["people"] == ["ana", "ben"]
    assert schedule["rotations"][0]["shift_hours"] == 168
    assert schedule["on_call"]["person"] == "ana"
    later = viewer.get("/api/oncall/now", params={"at": "2026-03-08T09:00:00+01:00"})
    assert later.json()[0]["person"] == "ben"


@pytest.mark.parametrize(
    ("change", "field_name"),
    [
        ({"schedule": "nope"}, "schedule"),
        ({"end": "2026-03-02T07:00:00Z"}, "end"),
        ({"start": "2026-03-02T08:00:00"}, "start"),
        ({"person": ""}, "person"),
        ({"colour": "red"}, "colour"),
        ({"end": "tomorrow"}, "end"),
    ],
)
def test_a_bad_override_gets_a_4xx_naming_the_field_and_changes_nothing(
    responder: httpx.Client, change: dict[str, str], field_name: str
) -> None:
    body = {
        "schedule": "primary",
        "person": "zoe",
        "start": "2026-03-02T08:00:00Z",
        "end": "2026-03-02T20:00:00Z",
        **change,
    }
    response = responder.post("/api/oncall/overrides", json=body)
    assert response.status_code == 422
    assert field_name in response.text
    assert on_call(responder) == "ana"


def test_reading_bad_queries_gets_a_4xx_not_a_500(viewer: httpx.Client) -> None:
    assert viewer.get("/api/oncall/now", params={"schedule": "nope"}).status_code == 404
    assert viewer.get("/api/oncall/now", params={"at": "2026-03-02T08:00"}).status_code == 422
    assert viewer.get("/api/incidents/999/pages").status_code == 404


def test_a_viewer_may_read_but_not_override_or_acknowledge(
    viewer: httpx.Client, site: Site
) -> None:
    incident_id = site.incident()
    site.tick()
    body = {"schedule": "primary", "person": "zoe", "start": "2026-03-02T08:00:00Z"}
    body["end"] = "2026-03-02T20:00:00Z"
    assert viewer.post("/api/oncall/overrides", json=body).status_code == 403
    assert viewer.post(f"/api/incidents/{incident_id}/acknowledge").status_code == 403
    assert on_call(viewer) == "ana"
    assert viewer.get(f"/api/incidents/{incident_id}/pages").json()["paging"] is True
    assert site.client(None).get("/api/oncall/now").status_code == 401


def test_a_responder_acknowledges_and_the_pages_stop(responder: httpx.Client, site: Site) -> None:
    incident_id = site.incident()
    assert [p.person for p in site.tick()] == ["ana"]
    pages = responder.get(f"/api/incidents/{incident_id}/pages").json()
    assert (pages["paging"], pages["policy"], pages["tier"]) == (True, "default", 1)
    assert [(p["person"], p["attempts"]) for p in pages["pages"]] == [("ana", 1)]
    site.clock.advance(120)
    ack = responder.post(f"/api/incidents/{incident_id}/acknowledge")
    assert ack.status_code == 200
    assert ack.json()["via"] == "api"
    assert ack.json()["already"] is False
    again = responder.post(f"/api/incidents/{incident_id}/acknowledge")
    assert again.json()["already"] is True
    site.clock.advance(3600)
    assert site.tick() == []
    after = responder.get(f"/api/incidents/{incident_id}/pages").json()
    assert after["paging"] is False
    assert after["acknowledged_by"] == ack.json()["acknowledged_by"]
    assert responder.post("/api/incidents/999/acknowledge").status_code == 404


def test_a_signed_link_asks_before_it_acknowledges_without_any_api_token(site: Site) -> None:
    incident_id = site.incident()
    [page] = site.tick()
    anonymous = site.client(None)
    shown = anonymous.get(page.ack_url)
    assert shown.status_code == 200
    assert '<form method="post">' in shown.text
    assert "&lt;b&gt;up&lt;/b&gt;" in shown.text  # the incident title is escaped
    assert shown.headers["cache-control"] == "no-store"
    viewer = site.client(Role.VIEWER)
    assert viewer.get(f"/api/incidents/{incident_id}/pages").json()["paging"] is True
    done = anonymous.post(page.ack_url, headers={"Accept": "application/json"})
    assert done.status_code == 200
    assert (done.json()["acknowledged_by"], done.json()["via"]) == ("link:ana", "link")
    again = anonymous.post(page.ack_url)
    assert "already acknowledged by link:ana" in again.text
    shown_after = anonymous.get(page.ack_url, headers={"Accept": "application/json"})
    assert shown_after.json()["acknowledged_by"] == "link:ana"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),
        lambda token: "1" + token,
        lambda token: "not-a-token",
    ],
)
def test_a_forged_link_is_refused_with_403_and_acknowledges_nothing(
    site: Site, tamper: object
) -> None:
    incident_id = site.incident()
    [page] = site.tick()
    token = page.ack_url.rsplit("/", 1)[1]
    forged = tamper(token)  # type: ignore[operator]
    anonymous = site.client(None)
    response = anonymous.post(f"/ack/{forged}", headers={"Accept": "application/json"})
    assert response.status_code == 403
    assert "not valid" in response.json()["detail"]
    assert anonymous.get(f"/ack/{forged}").status_code == 403
    viewer = site.client(Role.VIEWER)
    assert viewer.get(f"/api/incidents/{incident_id}/pages").json()["paging"] is True


def test_an_expired_link_is_refused_and_says_where_to_acknowledge(site: Site) -> None:
    site.incident()
    [page] = site.tick()
    site.clock.advance(24 * 3600)
    response = site.client(None).post(page.ack_url)
    assert response.status_code == 403
    assert "expired" in response.text
