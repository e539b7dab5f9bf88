"""The HTTP API, served by uvicorn on loopback and called with httpx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from fireline.api.app import MAX_BODY_BYTES
from fireline.clock import SimulatedClock
from fireline.domain.access import Role
from fireline.playbooks.engine import by_playbook
from fireline.runtime import Fireline
from fireline.tokens import hash_token, issue_token
from tests.conftest import T0


def token_for(deployment: tuple[Fireline, SimulatedClock], role: Role, name: str) -> str:
    app, clock = deployment
    return issue_token(app.state, name, role, now=clock.now())


@pytest.fixture
def client(deployment: tuple[Fireline, SimulatedClock], base_url: str) -> Iterator[httpx.Client]:
    """An administrator's client."""
    token = token_for(deployment, Role.ADMIN, "admin")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers) as http:
        yield http


def a_call(n: int, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "call_id": f"c{n}",
        "time": (T0 + timedelta(seconds=n)).isoformat(),
        "feature": "support-bot",
        "status": "ok",
        "model": "gpt-x",
        "latency_ms": 812.5,
    }
    row.update(overrides)
    return row


def test_a_valid_batch_is_stored_and_a_resent_one_is_counted_as_duplicates(
    client: httpx.Client, deployment: tuple[Fireline, SimulatedClock]
) -> None:
    batch = {"calls": [a_call(1), a_call(2, status="error", error_type="http_503")]}
    first = client.post("/v1/calls", json=batch)
    assert first.status_code == 200
    assert first.json() == {"accepted": 2, "duplicates": 0, "late": 0}
    again = client.post("/v1/calls", json=batch)
    assert again.json() == {"accepted": 0, "duplicates": 2, "late": 0}
    assert deployment[0].telemetry.count_calls() == 2


def test_a_batch_with_one_bad_row_is_refused_whole_naming_row_and_field(
    client: httpx.Client, deployment: tuple[Fireline, SimulatedClock]
) -> None:
    batch = {"calls": [a_call(1), a_call(2), {**a_call(3), "latency_ms": "slow"}]}
    response = client.post("/v1/calls", json=batch)
    assert response.status_code == 422
    body = response.json()
    assert "row 3" in body["detail"]
    assert "latency_ms" in body["detail"]
    assert body["problems"][0]["row"] == 3
    assert body["problems"][0]["field"] == "latency_ms"
    assert deployment[0].telemetry.count_calls() == 0


def test_a_row_without_a_feature_is_named(client: httpx.Client) -> None:
    row = a_call(1)
    del row["feature"]
    response = client.post("/v1/calls", json={"calls": [row]})
    assert response.status_code == 422
    assert response.json()["problems"] == [
        {"row": 1, "field": "feature", "message": "Field required"}
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{not json", "not valid JSON"),
        (b'[{"feature": "x"}]', "'calls' array"),
        (b'{"calls": {"feature": "x"}}', "'calls' array"),
        (b'{"calls": [42]}', "expected a JSON object"),
    ],
)
def test_malformed_bodies_get_a_4xx_that_says_what_is_wrong(
    client: httpx.Client, body: bytes, expected: str
) -> None:
    response = client.post("/v1/calls", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert expected in response.json()["detail"]


def test_an_oversized_body_is_refused_with_413(
    client: httpx.Client, deployment: tuple[Fireline, SimulatedClock]
) -> None:
    filler = "x" * 100_000
    rows = [a_call(i, output_text=filler) for i in range(MAX_BODY_BYTES // 100_000 + 5)]
    response = client.post(
        "/v1/calls",
        content=json.dumps({"calls": rows}).encode(),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]
    assert deployment[0].telemetry.count_calls() == 0


def test_an_oversized_stream_without_length_is_refused_too(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"calls": ['
        for _ in range(MAX_BODY_BYTES // 65_536 + 2):
            yield b" " * 65_536
        yield b"]}"

    response = client.post("/v1/calls", content=chunks())
    assert response.status_code == 413


def test_too_many_calls_in_one_batch_is_refused(client: httpx.Client) -> None:
    rows = [{"time": T0.isoformat(), "feature": "f"} for _ in range(10_001)]
    response = client.post("/v1/calls", json={"calls": rows})
    assert response.status_code == 413
    assert "10000" in response.json()["detail"]


def test_an_unknown_feature_reads_as_enabled_at_level_0(client: httpx.Client) -> None:
    response = client.get("/api/guards/never-seen")
    assert response.status_code == 200
    assert response.json()["level"] == 0
    assert response.json()["enabled"] is True


def test_a_missing_incident_is_a_404(client: httpx.Client) -> None:
    response = client.get("/api/incidents/12345")
    assert response.status_code == 404
    assert "12345" in response.json()["detail"]


def test_an_outage_sent_over_http_shows_up_as_an_incident_and_a_kill_switch(
    client: httpx.Client, deployment: tuple[Fireline, SimulatedClock]
) -> None:
    app, clock = deployment
    rows = []
    for minute in range(75):
        for i in range(60):
            # One error every third minute for 72 minutes, then half of all calls fail.
            failed = i % 2 == 0 if minute >= 72 else (i == 0 and minute % 3 == 0)
            rows.append(
                a_call(
                    minute * 1000 + i,
                    time=(T0 + timedelta(minutes=minute, seconds=i)).isoformat(),
                    status="error" if failed else "ok",
                )
            )
    for start in range(0, len(rows), 2_000):
        assert (
            client.post("/v1/calls", json={"calls": rows[start : start + 2_000]}).status_code == 200
        )
    clock.set(T0 + timedelta(minutes=75))
    app.tick()

    incidents = client.get("/api/incidents", params={"state": "open"}).json()
    assert len(incidents) == 1
    assert incidents[0]["type"] == "availability"
    assert incidents[0]["state"] == "contained"
    assert incidents[0]["response_target"] in ("immediate", "within 1 hour")
    detail = client.get(f"/api/incidents/{incidents[0]['id']}").json()
    ours = [e for e in detail["timeline"] if not by_playbook(e["actor"])]
    assert [e["kind"] for e in ours] == ["detected", "triaged", "guard_set"]
    assert detail["alerts"][0]["evidence"]["error_types"] == {
        "unknown": detail["alerts"][0]["evidence"]["total"]
    }
    guard = client.get("/api/guards/support-bot").json()
    assert guard["level"] == 4
    assert guard["enabled"] is False
    assert guard["incident_id"] == incidents[0]["id"]

    resolved = client.post(
        f"/api/incidents/{incidents[0]['id']}/resolve",
        json={"reason": "provider fixed"},
    )
    assert resolved.status_code == 200
    assert resolved.json()["state"] == "resolved"
    timeline = client.get(f"/api/incidents/{incidents[0]['id']}").json()["timeline"]
    assert timeline[-1]["actor"] == "token:admin"
    assert timeline[-1]["message"] == "provider fixed"
    assert client.get("/api/guards/support-bot").json()["enabled"] is True
    again = client.post(f"/api/incidents/{incidents[0]['id']}/resolve", json={"reason": "again"})
    assert again.status_code == 409


def test_the_openapi_document_lists_the_public_routes(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {
        "/v1/calls",
        "/api/incidents",
        "/api/incidents/{incident_id}",
        "/api/guards/{feature}",
    } <= set(paths)


def test_every_route_but_health_needs_a_token(base_url: str) -> None:
    with httpx.Client(base_url=base_url) as anonymous:
        assert anonymous.get("/healthz").status_code == 200
        for method, path in [
            ("GET", "/api/incidents"),
            ("GET", "/api/guards/x"),
            ("POST", "/v1/calls"),
            ("POST", "/api/incidents/1/resolve"),
        ]:
            response = anonymous.request(method, path)
            assert response.status_code == 401, path
            assert "Bearer" in response.json()["detail"]
            assert response.headers["www-authenticate"] == "Bearer"


def test_an_unknown_token_is_refused(base_url: str) -> None:
    response = httpx.get(f"{base_url}/api/guards/x", headers={"Authorization": "Bearer fl_nope"})
    assert response.status_code == 401
    assert "unknown or revoked" in response.json()["detail"]


def test_an_app_token_sends_calls_and_reads_guards_but_not_incidents(
    deployment: tuple[Fireline, SimulatedClock], base_url: str
) -> None:
    headers = {"Authorization": f"Bearer {token_for(deployment, Role.APP, 'support-bot')}"}
    with httpx.Client(base_url=base_url, headers=headers) as app_client:
        assert app_client.post("/v1/calls", json={"calls": [a_call(1)]}).status_code == 200
        assert app_client.get("/api/guards/support-bot").status_code == 200
        refused = app_client.get("/api/incidents")
        assert refused.status_code == 403
        assert "role 'app' may not read_incidents" in refused.json()["detail"]


def test_a_viewer_reads_incidents_but_cannot_resolve_or_send_calls(
    deployment: tuple[Fireline, SimulatedClock], base_url: str
) -> None:
    headers = {"Authorization": f"Bearer {token_for(deployment, Role.VIEWER, 'dashboard')}"}
    with httpx.Client(base_url=base_url, headers=headers) as viewer:
        assert viewer.get("/api/incidents").status_code == 200
        assert viewer.post("/api/incidents/1/resolve", json={"reason": "r"}).status_code == 403
        assert viewer.post("/v1/calls", json={"calls": []}).status_code == 403


def test_a_revoked_token_stops_working_at_once(
    deployment: tuple[Fireline, SimulatedClock], base_url: str
) -> None:
    app, clock = deployment
    headers = {"Authorization": f"Bearer {token_for(deployment, Role.RESPONDER, 'alice')}"}
    assert httpx.get(f"{base_url}/api/incidents", headers=headers).status_code == 200
    with app.state.unit_of_work() as tx:
        tx.revoke_token("alice", now=clock.now())
    assert httpx.get(f"{base_url}/api/incidents", headers=headers).status_code == 401


def test_tokens_are_stored_only_as_hashes(deployment: tuple[Fireline, SimulatedClock]) -> None:
    app, _ = deployment
    token = token_for(deployment, Role.ADMIN, "root")
    with app.state.engine.connect() as connection:
        stored = [tuple(row) for row in connection.exec_driver_sql("SELECT * FROM api_tokens")]
    assert token not in repr(stored)
    assert hash_token(token) in repr(stored)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"calls": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "not usable JSON"),
        (b'{"calls": [{"x": ' + b"9" * 5_000 + b"}]}", "not usable JSON"),
        (b'{"calls": [{"time": "0001-01-01T00:00:00+01:00", "feature": "f"}]}', "1970 and 2999"),
        (
            b'{"calls": [{"time": 0, "feature": "f", "input_tokens": 100000000000000000000}]}',
            "input_tokens",
        ),
        (b'{"calls": [{"time": 0, "feature": "f", "latency_ms": Infinity}]}', "finite"),
    ],
    ids=["deep nesting", "huge number", "year 1", "huge integer", "infinity"],
)
def test_absurd_input_gets_a_422_not_a_500(
    client: httpx.Client, body: bytes, expected: str
) -> None:
    response = client.post("/v1/calls", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert expected in response.json()["detail"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/incidents/99999999999999999999",
        "/api/incidents/0",
        "/api/incidents?limit=100000",
        "/api/incidents?offset=-1",
    ],
)
def test_out_of_range_ids_and_pages_get_a_422(client: httpx.Client, path: str) -> None:
    assert client.get(path).status_code == 422


def test_a_resolve_body_with_an_actor_is_refused_as_the_caller_is_the_token(
    client: httpx.Client,
) -> None:
    response = client.post(
        "/api/incidents/1/resolve", json={"actor": "policy:default", "reason": "spoof"}
    )
    assert response.status_code == 422


def test_feedback_and_changes_are_stored_and_changes_listed(
    client: httpx.Client, deployment: tuple[Fireline, SimulatedClock]
) -> None:
    feedback = {
        "feedback": [
            {
                "call_id": "c1",
                "time": T0.isoformat(),
                "kind": "thumbs_down",
                "comment": "mail me at jane@example.com",
            }
        ]
    }
    assert client.post("/v1/feedback", json=feedback).json() == {
        "accepted": 1,
        "duplicates": 0,
        "late": 0,
    }
    assert client.post("/v1/feedback", json=feedback).json()["duplicates"] == 1
    [stored] = deployment[0].telemetry.feedback_for("c1")
    assert stored["comment"] == "mail me at [EMAIL]"

    changes = {
        "changes": [
            {
                "time": T0.isoformat(),
                "kind": "prompt",
                "version": "v8",
                "feature": "support-bot",
                "previous_version": "v7",
            },
            {
                "time": (T0 + timedelta(minutes=5)).isoformat(),
                "kind": "index",
                "version": "i-2",
                "feature": "search",
            },
        ]
    }
    assert client.post("/v1/changes", json=changes).json()["accepted"] == 2
    listed = client.get("/api/changes", params={"feature": "support-bot"}).json()
    assert [c["version"] for c in listed] == ["v8"]
    assert listed[0]["previous_version"] == "v7"
    bad = client.post(
        "/v1/changes", json={"changes": [{"time": T0.isoformat(), "kind": "x", "version": "1"}]}
    )
    assert bad.status_code == 422
    assert bad.json()["problems"][0]["field"] == "kind"


def test_a_feature_name_with_a_slash_reads_its_own_guard(client: httpx.Client) -> None:
    response = client.get("/api/guards/team/support-bot")
    assert response.status_code == 200
    assert response.json()["feature"] == "team/support-bot"


def test_a_call_more_than_a_day_ahead_of_the_server_clock_is_refused(
    client: httpx.Client, deployment: tuple[Fireline, SimulatedClock]
) -> None:
    soon = a_call(1, time=(T0 + timedelta(hours=23)).isoformat())
    later = a_call(2, time=(T0 + timedelta(hours=25)).isoformat())
    response = client.post("/v1/calls", json={"calls": [soon, later]})
    assert response.status_code == 422
    assert response.json()["problems"] == [
        {
            "row": 2,
            "field": "time",
            "message": "Value error, is more than 24 hours ahead of the server's clock",
        }
    ]
    assert deployment[0].telemetry.count_calls() == 0
    feedback = {
        "feedback": [
            {"call_id": "c1", "kind": "thumbs_up", "time": (T0 + timedelta(days=3)).isoformat()}
        ]
    }
    assert client.post("/v1/feedback", json=feedback).status_code == 422
    assert client.post("/v1/calls", json={"calls": [soon]}).status_code == 200
