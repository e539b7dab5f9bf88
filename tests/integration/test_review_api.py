"""The human review queue over HTTP (uvicorn on loopback): submit, list, decide, labels."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from fireline.clock import SimulatedClock
from fireline.domain.access import Role
from fireline.domain.guard import ContainmentLevel, Guard
from fireline.domain.incident import Incident, IncidentType
from fireline.domain.severity import Severity
from fireline.errors import IllegalTransition
from fireline.review import ReviewStatus
from fireline.review.service import ReviewService
from fireline.runtime import Fireline
from fireline.store.state import StateStore
from tests.conftest import T0
from tests.servers import client_for

Deployment = tuple[Fireline, SimulatedClock]
CONTEXT = {"docs": ["refund-policy#3"], "user": "u-81", "tenant": "acme", "prompt": "v42"}


@pytest.fixture
def incident_id(deployment: Deployment) -> int:
    """An open incident on support-bot, whose guard holds outputs for review (level 2)."""
    app, _ = deployment
    with app.state.unit_of_work() as tx:
        found = tx.add_incident(
            Incident.detected(
                feature="support-bot",
                type=IncidentType.QUALITY,
                severity=Severity.P2,
                title="refund answers wrong",
                at=T0,
            ),
            now=T0,
        )
        assert found.incident_id is not None
        tx.put_guard(
            Guard(
                "support-bot",
                level=ContainmentLevel.HUMAN_REVIEW,
                incident_id=found.incident_id,
                updated_at=T0,
            )
        )
    return found.incident_id


def submit(http: httpx.Client, key: str, **changes: Any) -> httpx.Response:
    body = {
        "feature": "support-bot",
        "client_id": key,
        "input": "Can I get a refund after 40 days?",
        "output": "Yes, refunds are always possible.",
        "context": CONTEXT,
        "call_id": f"call-{key}",
        "wait_s": 60,
        **changes,
    }
    return http.post("/v1/reviews", json=body)


def test_a_held_output_is_listed_with_its_context_and_its_incident(
    app_client: httpx.Client, viewer: httpx.Client, incident_id: int
) -> None:
    created = submit(app_client, "c-1")
    assert created.status_code == 201, created.text
    review = created.json()
    listed = viewer.get("/api/reviews", params={"status": "pending", "feature": "support-bot"})
    shown = viewer.get(f"/api/reviews/{review['id']}").json()

    assert review["status"] == "pending"
    assert review["incident_id"] == incident_id
    assert review["expires_at"] == (T0 + timedelta(seconds=60)).isoformat().replace("+00:00", "Z")
    assert [r["id"] for r in listed.json()] == [review["id"]]
    assert shown["context"] == CONTEXT
    assert (shown["input"], shown["output"]) == (
        "Can I get a refund after 40 days?",
        "Yes, refunds are always possible.",
    )


def test_a_feature_not_at_level_two_gives_its_reviews_no_incident(
    app_client: httpx.Client, incident_id: int
) -> None:
    review = submit(app_client, "c-2", feature="search-answers").json()
    assert review["incident_id"] is None


def test_a_resubmission_with_the_same_client_id_returns_the_same_review(
    app_client: httpx.Client, viewer: httpx.Client
) -> None:
    first = submit(app_client, "retry-me")
    second = submit(app_client, "retry-me")
    other = submit(app_client, "retry-me", output="Something else.")

    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    assert len(viewer.get("/api/reviews").json()) == 1
    assert other.status_code == 409
    assert "already used" in other.json()["detail"]


@pytest.mark.parametrize(
    ("path", "body", "status", "final"),
    [
        ("approve", None, "approved", "Yes, refunds are always possible."),
        ("approve", {"note": "checked"}, "approved", "Yes, refunds are always possible."),
        ("edit", {"output": "Refunds within 30 days.", "note": "policy"}, "edited", None),
        ("reject", {"note": "wrong policy"}, "rejected", None),
    ],
)
def test_a_responder_decides_and_the_app_sees_the_decision(
    app_client: httpx.Client,
    responder: httpx.Client,
    path: str,
    body: dict[str, str] | None,
    status: str,
    final: str | None,
) -> None:
    review_id = submit(app_client, "c-3").json()["id"]
    decided = responder.post(f"/api/reviews/{review_id}/{path}", json=body)
    polled = app_client.get(f"/v1/reviews/{review_id}").json()

    assert decided.status_code == 200, decided.text
    assert decided.json()["decided_by"] == "token:responder-user"
    expected = "Refunds within 30 days." if path == "edit" else final
    assert (polled["status"], polled["final_output"]) == (status, expected)
    assert set(polled) == {"id", "feature", "status", "final_output", "decided_at", "expires_at"}


def test_a_second_decision_is_a_conflict_and_changes_nothing(
    app_client: httpx.Client, responder: httpx.Client
) -> None:
    review_id = submit(app_client, "c-4").json()["id"]
    assert (
        responder.post(f"/api/reviews/{review_id}/reject", json={"note": "no"}).status_code == 200
    )
    again = responder.post(f"/api/reviews/{review_id}/approve")

    assert again.status_code == 409
    assert "already rejected" in again.json()["detail"]
    assert responder.get(f"/api/reviews/{review_id}").json()["status"] == "rejected"


def test_an_app_or_a_viewer_may_not_decide_and_an_app_may_not_list(
    app_client: httpx.Client, viewer: httpx.Client
) -> None:
    review_id = submit(app_client, "c-5").json()["id"]
    assert app_client.post(f"/api/reviews/{review_id}/approve").status_code == 403
    assert viewer.post(f"/api/reviews/{review_id}/approve").status_code == 403
    assert app_client.get("/api/reviews").status_code == 403
    assert viewer.post("/v1/reviews", json={}).status_code == 403


def test_unknown_reviews_are_not_found(app_client: httpx.Client, responder: httpx.Client) -> None:
    assert app_client.get("/v1/reviews/999").status_code == 404
    assert responder.get("/api/reviews/999").status_code == 404
    answer = responder.post("/api/reviews/999/reject", json={"note": "x"})
    assert answer.status_code == 404
    assert answer.json()["detail"] == "review 999 does not exist"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"output": "x" * 100_001}, "output"),
        ({"input": "x" * 100_001}, "input"),
        ({"context": {"blob": "x" * 70_000}}, "context"),
        ({"feature": "no spaces allowed"}, "feature"),
        ({"client_id": ""}, "client_id"),
        ({"wait_s": 0}, "wait_s"),
        ({"unknown": 1}, "unknown"),
        ({"output": "nul\x00byte"}, "output"),
    ],
)
def test_oversized_or_malformed_submissions_are_refused_with_the_field_named(
    app_client: httpx.Client, changes: dict[str, Any], field: str
) -> None:
    answer = submit(app_client, "c-6", **changes)
    assert answer.status_code == 422
    assert field in json.dumps(answer.json()["detail"])


def test_a_context_that_is_not_strict_json_is_refused(app_client: httpx.Client) -> None:
    answer = app_client.post(
        "/v1/reviews",
        content=b'{"feature": "support-bot", "client_id": "nan", "input": "i", "output": "o",'
        b' "context": {"score": NaN}}',
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 422
    assert "NaN" in json.dumps(answer.json()["detail"])


def test_an_edit_needs_an_output_and_a_rejection_needs_a_note(
    app_client: httpx.Client, responder: httpx.Client
) -> None:
    review_id = submit(app_client, "c-7").json()["id"]
    assert responder.post(f"/api/reviews/{review_id}/edit", json={}).status_code == 422
    assert responder.post(f"/api/reviews/{review_id}/edit", json={"output": " "}).status_code == 422
    assert responder.post(f"/api/reviews/{review_id}/reject", json={}).status_code == 422
    assert responder.get(f"/api/reviews/{review_id}").json()["status"] == "pending"


def test_a_review_whose_time_is_up_is_expired_when_listed_or_decided(
    deployment: Deployment, app_client: httpx.Client, responder: httpx.Client
) -> None:
    _, clock = deployment
    first = submit(app_client, "c-8", wait_s=30).json()["id"]
    second = submit(app_client, "c-9", wait_s=30).json()["id"]
    clock.advance(31)
    polled = app_client.get(f"/v1/reviews/{first}").json()
    late = responder.post(f"/api/reviews/{second}/approve")
    pending = responder.get("/api/reviews").json()
    expired = responder.get("/api/reviews", params={"status": "expired"}).json()

    assert polled["status"] == "expired"
    assert late.status_code == 409
    assert "expired" in late.json()["detail"]
    assert pending == []
    assert sorted(r["id"] for r in expired) == [first, second]
    assert len(responder.get("/api/reviews", params={"status": "all"}).json()) == 2
    assert responder.get("/api/reviews", params={"status": "maybe"}).status_code == 422


def test_a_decision_goes_on_the_incident_timeline_and_the_audit_chain_verifies(
    deployment: Deployment,
    base_url: str,
    app_client: httpx.Client,
    responder: httpx.Client,
    incident_id: int,
) -> None:
    review_id = submit(app_client, "c-10").json()["id"]
    responder.post(f"/api/reviews/{review_id}/edit", json={"output": "30 days.", "note": "policy"})
    incident = responder.get(f"/api/incidents/{incident_id}")
    with client_for(deployment[0], base_url, Role.ADMIN) as admin:
        verified = admin.get("/api/audit/verify").json()

    assert incident.status_code == 200, incident.text
    [entry] = [e for e in incident.json()["timeline"] if e["kind"] == "review_decision"]
    assert entry["actor"] == "token:responder-user"
    assert f"review {review_id}" in entry["message"]
    assert "policy" in entry["message"]
    assert verified["ok"] is True
    assert verified["checked"] >= 1


def test_decided_reviews_export_as_jsonl_labels(
    app_client: httpx.Client, responder: httpx.Client, viewer: httpx.Client
) -> None:
    ids = [submit(app_client, f"l-{n}").json()["id"] for n in range(4)]
    responder.post(f"/api/reviews/{ids[0]}/approve")
    responder.post(f"/api/reviews/{ids[1]}/edit", json={"output": "30 days."})
    responder.post(f"/api/reviews/{ids[2]}/reject", json={"note": "wrong"})
    answer = viewer.get("/api/reviews/labels.jsonl")
    labels = [json.loads(line) for line in answer.text.splitlines()]

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/x-ndjson")
    assert [(x["review_id"], x["label"], x["corrected_output"]) for x in labels] == [
        (ids[0], "good", None),
        (ids[1], "corrected", "30 days."),
        (ids[2], "bad", None),
    ]
    assert labels[2]["note"] == "wrong"
    assert labels[0]["context"] == CONTEXT
    assert app_client.get("/api/reviews/labels.jsonl").status_code == 403


def test_the_queue_works_the_same_on_sqlite_and_postgresql(state_store: StateStore) -> None:
    clock = SimulatedClock(T0)
    service = ReviewService(state_store, clock)
    review, created = service.submit("support-bot", "k-1", "in", "out", context=CONTEXT)
    again, created_again = service.submit("support-bot", "k-1", "in", "out")
    assert review.review_id is not None
    decided = service.decide(review.review_id, ReviewStatus.EDITED, by="me", output="better")
    with pytest.raises(IllegalTransition):
        service.decide(review.review_id, ReviewStatus.APPROVED, by="me")
    late, _ = service.submit("support-bot", "k-2", "in", "out", wait_s=5)
    clock.advance(10)

    assert (created, created_again, again.review_id) == (True, False, review.review_id)
    assert decided.decided_at is not None
    assert service.get(review.review_id).decided_at == T0
    assert service.get(review.review_id).context == CONTEXT
    assert service.reviews(status=None, limit=10)[0].status is ReviewStatus.EXPIRED
    assert [r.review_id for r in service.reviews(status=ReviewStatus.EXPIRED)] == [late.review_id]
    assert [lb.label for lb in service.labels()] == ["corrected"]
    assert [lb.label for lb in service.labels(limit=1)] == ["corrected"]
