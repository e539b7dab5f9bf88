"""Rolling back: the guard pins the last version that was live through a healthy stretch;
rolling forward lifts the pin; apps read the routing from the guard (API and SDK)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from fireline.clock import SimulatedClock
from fireline.domain.access import Role
from fireline.domain.incident import Incident, IncidentType
from fireline.domain.severity import Severity
from fireline.domain.telemetry import Change, ChangeKind
from fireline.runtime import Fireline
from fireline.tokens import issue_token
from tests.conftest import T0


@pytest.fixture
def history(deployment: tuple[Fireline, SimulatedClock]) -> int:
    """prompt v1 live and healthy for a day, v2 deployed, then an incident."""
    app, clock = deployment
    with app.state.unit_of_work() as tx:
        tx.add_changes(
            [
                Change("c1", T0, ChangeKind.PROMPT, "v1", feature="support-bot"),
                Change(
                    "c2",
                    T0 + timedelta(days=1),
                    ChangeKind.PROMPT,
                    "v2",
                    feature="support-bot",
                    previous_version="v1",
                ),
            ]
        )
        clock.set(T0 + timedelta(days=1, minutes=10))
        incident = tx.add_incident(
            Incident.detected(
                feature="support-bot",
                type=IncidentType.QUALITY,
                severity=Severity.P2,
                title="answers got worse",
                at=clock.now(),
            ),
            now=clock.now(),
        )
    clock.advance(600)
    assert incident.incident_id is not None
    return incident.incident_id


@pytest.fixture
def client(deployment, base_url) -> Iterator[httpx.Client]:
    app, clock = deployment
    token = issue_token(app.state, "ic", Role.COMMANDER, now=clock.now())
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}) as http:
        yield http


def test_a_rollback_pins_the_last_known_good_prompt_and_roll_forward_lifts_it(
    client: httpx.Client, history: int
) -> None:
    body = {"feature": "support-bot", "kind": "prompt", "reason": "v2 answers worse"}

    pinned = client.post("/api/guards/rollback", json=body)
    read = client.get("/api/guards/support-bot").json()
    lifted = client.post("/api/guards/roll-forward", json=body)
    timeline = [e["message"] for e in client.get(f"/api/incidents/{history}").json()["timeline"]]

    assert pinned.status_code == 200, pinned.text
    assert read["routing"] == {"prompt": "v1"}
    assert lifted.json()["routing"] == {}
    assert any("rolled back from v2 to v1" in m for m in timeline)
    assert any("rolled forward from v1 to v2" in m for m in timeline)


def test_nothing_to_roll_back_to_or_an_unknown_kind_is_a_clear_4xx(
    client: httpx.Client, history: int
) -> None:
    no_model = client.post(
        "/api/guards/rollback", json={"feature": "support-bot", "kind": "model", "reason": "x"}
    )
    bad_kind = client.post(
        "/api/guards/rollback", json={"feature": "support-bot", "kind": "flag", "reason": "x"}
    )
    not_pinned = client.post(
        "/api/guards/roll-forward",
        json={"feature": "support-bot", "kind": "prompt", "reason": "x"},
    )

    assert no_model.status_code == 422
    assert "no known good model" in no_model.json()["problems"][0]["message"]
    assert bad_kind.status_code == 422
    assert not_pinned.status_code == 422


def test_the_pin_survives_a_level_change_and_the_sdk_reads_it(
    deployment: tuple[Fireline, SimulatedClock], client: httpx.Client, base_url: str, history
) -> None:
    from fireline.sdk import FirelineClient

    app, clock = deployment
    client.post(
        "/api/guards/rollback", json={"feature": "support-bot", "kind": "prompt", "reason": "x"}
    )
    with app.responding() as tx:
        app.incidents.resolve(tx, history, actor="test", reason="fixed")
    token = issue_token(app.state, "app", Role.APP, now=clock.now())
    sdk = FirelineClient(base_url, token, flush_interval=60)
    try:
        guard = sdk.guard("support-bot")
    finally:
        sdk.close()

    assert app.guard("support-bot").routing == {"prompt": "v1"}  # resolving lifts no pin
    assert guard.routing == {"prompt": "v1"}
