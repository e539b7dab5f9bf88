"""The SDK holds outputs for review through a real fireline API, waits, and falls back."""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from fireline.api.app import create_app
from fireline.clock import SimulatedClock
from fireline.domain.access import Role
from fireline.domain.guard import ContainmentLevel, Guard
from fireline.review import ReviewStatus
from fireline.review.service import review_service
from fireline.runtime import Fireline
from fireline.sdk import FirelineClient, ReviewOutcome
from fireline.tokens import issue_token
from tests.conftest import T0
from tests.servers import free_port, serving

QUESTION = "Can I get a refund after 40 days?"
ANSWER = "Yes, refunds are always possible."
SORRY = "A person will get back to you shortly."


@pytest.fixture
def deployment() -> Iterator[Fireline]:
    """An in-memory deployment whose support-bot holds outputs for review (level 2)."""
    app = Fireline.in_memory(SimulatedClock(T0))
    with app.state.unit_of_work() as tx:
        tx.put_guard(Guard("support-bot", level=ContainmentLevel.HUMAN_REVIEW, updated_at=T0))
    yield app
    app.close()


@pytest.fixture
def url(deployment: Fireline) -> Iterator[str]:
    with serving(create_app(deployment)) as base:
        yield base


@pytest.fixture
def client(deployment: Fireline, url: str) -> Iterator[FirelineClient]:
    token = issue_token(deployment.state, "support-bot", Role.APP, now=T0)
    with FirelineClient(url, token, review_wait_s=10) as sdk:
        yield sdk


@pytest.fixture
def responder(deployment: Fireline, url: str) -> Iterator[httpx.Client]:
    token = issue_token(deployment.state, "ana", Role.RESPONDER, now=T0)
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http:
        yield http


def in_background(call: Callable[[], ReviewOutcome]) -> Callable[[], ReviewOutcome]:
    """Run `call` in a thread; the returned function waits for its outcome."""
    outcome: list[ReviewOutcome] = []
    thread = threading.Thread(target=lambda: outcome.append(call()), daemon=True)
    thread.start()

    def result() -> ReviewOutcome:
        thread.join(timeout=30)
        return outcome[0]

    return result


def first_pending(responder: httpx.Client) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pending = responder.get("/api/reviews").json()
        if pending:
            return dict(pending[0])
        time.sleep(0.02)
    raise AssertionError("no review arrived")


@pytest.mark.parametrize(
    ("path", "body", "status", "output"),
    [
        ("approve", None, "approved", ANSWER),
        ("edit", {"output": "Refunds are possible within 30 days."}, "edited", None),
    ],
)
def test_the_app_delivers_what_a_person_approved_or_edited(
    client: FirelineClient,
    responder: httpx.Client,
    path: str,
    body: dict[str, str] | None,
    status: str,
    output: str | None,
) -> None:
    assert client.guard("support-bot").level == ContainmentLevel.HUMAN_REVIEW
    context = {"docs": ["refund-policy#3"], "tenant": "acme", "asked_at": datetime.now(UTC)}
    outcome = in_background(
        lambda: client.review(
            "support-bot", QUESTION, ANSWER, context=context, call_id="call-1", fallback=SORRY
        )
    )
    held = first_pending(responder)
    assert responder.post(f"/api/reviews/{held['id']}/{path}", json=body).status_code == 200
    done = outcome()

    assert (held["input"], held["output"], held["call_id"]) == (QUESTION, ANSWER, "call-1")
    assert held["context"]["tenant"] == "acme"
    assert isinstance(held["context"]["asked_at"], str)
    expected = output or "Refunds are possible within 30 days."
    assert done == ReviewOutcome(status, expected, held["id"], delivered_fallback=False)  # type: ignore[arg-type]
    assert done.reviewed


def test_a_rejected_output_is_replaced_by_the_fallback_made_only_then(
    client: FirelineClient, responder: httpx.Client
) -> None:
    made: list[str] = []

    def fallback() -> str:
        made.append(SORRY)
        return SORRY

    outcome = in_background(
        lambda: client.review("support-bot", QUESTION, ANSWER, fallback=fallback)
    )
    held = first_pending(responder)
    assert made == []
    responder.post(f"/api/reviews/{held['id']}/reject", json={"note": "wrong policy"})
    done = outcome()

    assert done == ReviewOutcome("rejected", SORRY, held["id"], delivered_fallback=True)
    assert made == [SORRY]


def test_nobody_deciding_in_time_delivers_the_fallback_after_the_wait(
    deployment: Fireline, client: FirelineClient
) -> None:
    started = time.monotonic()
    done = client.review("support-bot", QUESTION, ANSWER, wait_s=1.0, fallback=SORRY)
    waited = time.monotonic() - started

    assert (done.status, done.output, done.delivered_fallback) == ("timed_out", SORRY, True)
    assert 1.0 <= waited < 3.0
    assert done.review_id is not None
    assert review_service(deployment).get(done.review_id).status is ReviewStatus.PENDING


def test_an_unreachable_fireline_gives_unavailable_and_the_fallback_without_raising() -> None:
    with FirelineClient(f"http://127.0.0.1:{free_port()}", "fl_token", timeout=1.0) as sdk:
        started = time.monotonic()
        done = sdk.review("support-bot", QUESTION, ANSWER, wait_s=5, fallback=SORRY)
        waited = time.monotonic() - started

    assert done == ReviewOutcome("unavailable", SORRY, None, delivered_fallback=True)
    assert waited < 5


def test_a_submission_fireline_refuses_gives_unavailable_without_raising(
    client: FirelineClient,
) -> None:
    done = client.review("support-bot", QUESTION, "x" * 100_001, wait_s=5)
    assert done == ReviewOutcome("unavailable", None, None, delivered_fallback=True)


def test_a_lost_answer_is_retried_with_the_same_client_id_and_holds_one_review(
    deployment: Fireline,
) -> None:
    api = create_app(deployment)
    lost: list[str] = []
    add_answer_loss(api, lost)
    token = issue_token(deployment.state, "support-bot", Role.APP, now=T0)
    with serving(api) as base, FirelineClient(base, token) as sdk:
        done = sdk.review("support-bot", QUESTION, ANSWER, wait_s=2, fallback=SORRY)

    stored = review_service(deployment).reviews(status=None)
    assert len(lost) == 1
    assert [r.client_id for r in stored] == lost
    assert (done.status, done.review_id) == ("timed_out", stored[0].review_id)


def add_answer_loss(api: FastAPI, lost: list[str]) -> None:
    """Store the first submission, then answer 503 as if the answer were lost on the way."""

    @api.middleware("http")
    async def lose_first_answer(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        body = await request.body()
        response = await call_next(request)
        if request.method == "POST" and request.url.path == "/v1/reviews" and not lost:
            lost.append(httpx.Response(200, content=body).json()["client_id"])
            return Response("lost", status_code=503)
        return response


def test_a_disabled_or_closed_client_delivers_the_fallback_at_once(url: str) -> None:
    disabled = FirelineClient(url, "fl_token", enabled=False)
    closed = FirelineClient(url, "fl_token")
    closed.close()
    for sdk in (disabled, closed):
        assert sdk.review("support-bot", QUESTION, ANSWER, fallback=lambda: SORRY) == (
            ReviewOutcome("unavailable", SORRY, None, delivered_fallback=True)
        )


def test_a_wrong_wait_or_fallback_is_a_programming_error_raised_at_once() -> None:
    sdk = FirelineClient("http://127.0.0.1:9", "fl_token", enabled=False)
    with pytest.raises(ValueError, match="wait_s"):
        sdk.review("support-bot", QUESTION, ANSWER, wait_s=0)
    with pytest.raises(TypeError, match="fallback"):
        sdk.review("support-bot", QUESTION, ANSWER, fallback=42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="review_wait_s"):
        FirelineClient("http://127.0.0.1:9", "fl_token", enabled=False, review_wait_s=0)
