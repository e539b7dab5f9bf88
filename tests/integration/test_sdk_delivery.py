"""The SDK against a real fireline API on loopback: what the app records is what gets stored.

Where a test needs fireline to misbehave (fail, lose an answer, refuse a size), a small real
HTTP server stands in front of it and forwards to it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from fireline.api.app import create_app
from fireline.clock import WallClock
from fireline.config import Config, Ingest, Redaction
from fireline.domain.access import Role
from fireline.runtime import Fireline
from fireline.sdk import FirelineClient, current_call
from fireline.tokens import issue_token
from tests.conftest import T0
from tests.servers import free_port, serving

FAST: dict[str, Any] = {"flush_interval": 0.05, "max_retry_delay": 0.2, "timeout": 2.0}


@dataclass
class Deployment:
    app: Fireline
    url: str
    token: str

    def client(self, **options: Any) -> FirelineClient:
        return FirelineClient(self.url, self.token, **{**FAST, **options})

    def stored(self, call_id: str) -> dict[str, Any]:
        found = self.app.telemetry.get_call(call_id)
        assert found is not None, f"call {call_id} was not stored"
        return found


@pytest.fixture(scope="module")
def fireline_api() -> Iterator[Deployment]:
    """fireline's API with an app token; texts and user ids stored as sent.

    Shared by the tests of this module: each looks only at the call ids it sent.
    """
    keep = Config(ingest=Ingest(redaction=Redaction(hash_user_ids=False, pii="keep")))
    app = Fireline.in_memory(WallClock(), config=keep)  # the SDK stamps calls with wall time
    token = issue_token(app.state, "support-bot", Role.APP, now=T0)
    with serving(create_app(app)) as url:
        yield Deployment(app, url, token)
    app.close()


@dataclass
class Reply:
    """What the proxy answers instead of fireline; with `forward`, after fireline stored it."""

    status: int
    body: dict[str, Any]
    forward: bool = False


class Proxy:
    """A real HTTP server in front of fireline that answers as scripted, then forwards."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.replies: deque[Reply] = deque()
        self.rule: Callable[[list[dict[str, Any]]], Reply | None] | None = None
        self.requests: list[list[dict[str, Any]]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                calls = json.loads(body)["calls"]
                proxy.requests.append(calls)
                reply = proxy.replies.popleft() if proxy.replies else None
                if reply is None and proxy.rule is not None:
                    reply = proxy.rule(calls)
                if reply is None or reply.forward:
                    answer = httpx.post(
                        proxy.upstream + self.path,
                        content=body,
                        headers={
                            "Authorization": self.headers["Authorization"],
                            "Content-Type": "application/json",
                        },
                    )
                    status, content = answer.status_code, answer.content
                if reply is not None:
                    status, content = reply.status, json.dumps(reply.body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Proxy:
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def call_ids(self, request: int) -> list[str]:
        return [call["call_id"] for call in self.requests[request]]


@pytest.fixture
def proxy(fireline_api: Deployment) -> Iterator[Proxy]:
    with Proxy(fireline_api.url) as running:
        yield running


def test_a_decorated_function_is_stored_as_one_ok_call_with_its_fields(
    fireline_api: Deployment,
) -> None:
    seen: list[str] = []
    with fireline_api.client() as client:

        @client.observe("support-bot", model="gpt-4o", provider="openai", tenant="acme")
        def answer(question: str) -> str:
            call = current_call()
            seen.append(call.call_id)
            call.input_text = question
            call.output_tokens = 7
            return "It is 42."

        before = datetime.now(UTC)
        assert answer("What is the answer?") == "It is 42."
        assert client.flush(5)
        stats = client.stats()

    stored = fireline_api.stored(seen[0])
    assert stored["feature"] == "support-bot"
    assert stored["status"] == "ok"
    assert stored["error_type"] is None
    assert stored["model"] == "gpt-4o"
    assert stored["provider"] == "openai"
    assert stored["tenant"] == "acme"
    assert stored["input_text"] == "What is the answer?"
    assert stored["output_tokens"] == 7
    assert stored["latency_ms"] >= 0
    assert before <= stored["time"] <= datetime.now(UTC)
    assert len(seen[0]) == 32
    assert (stats.recorded, stats.sent, stats.queued) == (1, 1, 0)


def test_a_decorated_coroutine_is_measured_across_its_awaits(fireline_api: Deployment) -> None:
    seen: list[str] = []
    with fireline_api.client() as client:

        @client.observe("support-bot", model="gpt-4o")
        async def answer() -> str:
            seen.append(current_call().call_id)
            await asyncio.sleep(0.05)
            current_call().finish_reason = "stop"
            return "done"

        assert asyncio.run(answer()) == "done"
        assert client.flush(5)

    stored = fireline_api.stored(seen[0])
    assert stored["status"] == "ok"
    assert stored["finish_reason"] == "stop"
    assert stored["latency_ms"] >= 50


def test_an_exception_propagates_unchanged_and_is_stored_as_an_error_named_after_it(
    fireline_api: Deployment,
) -> None:
    class ProviderDown(Exception):
        pass

    raised = ProviderDown("503 from the provider")
    seen: list[str] = []
    with fireline_api.client() as client:

        @client.observe("support-bot")
        def answer() -> str:
            seen.append(current_call().call_id)
            raise raised

        @client.observe("support-bot")
        async def answer_async() -> str:
            seen.append(current_call().call_id)
            raise raised

        with pytest.raises(ProviderDown) as caught:
            answer()
        assert caught.value is raised
        with pytest.raises(ProviderDown) as caught_async:
            asyncio.run(answer_async())
        assert caught_async.value is raised
        assert client.flush(5)

    for call_id in seen:
        stored = fireline_api.stored(call_id)
        assert (stored["status"], stored["error_type"]) == ("error", "ProviderDown")


def test_the_context_manager_stores_every_field_the_app_filled_in(
    fireline_api: Deployment,
) -> None:
    with fireline_api.client() as client:
        with client.call(
            "support-bot",
            provider="openai",
            model="gpt-4o-2024-08-06",
            model_version="2024-08-06",
            prompt_version="p7",
            index_version="idx-3",
            tenant="acme",
            user="jane",
            trace_id="trace-1",
            input_text="Where is my order?",
            attributes={"region": "eu"},
        ) as call:
            call.input_tokens = 1000
            call.output_tokens = 120
            call.cost_usd = 0.0035
            call.finish_reason = "stop"
            call.output_text = "On its way."
            call.set_attribute("cache_hit", False)
            call.set_attribute("retries", 2)
            call.set_attribute("score", 0.5)
            call.mark_first_token()
        assert client.flush(5)

    stored = fireline_api.stored(call.call_id)
    assert stored == {
        **stored,
        "call_id": call.call_id,
        "time": call.time,
        "feature": "support-bot",
        "status": "ok",
        "error_type": None,
        "latency_ms": call.latency_ms,
        "time_to_first_token_ms": call.time_to_first_token_ms,
        "provider": "openai",
        "model": "gpt-4o-2024-08-06",
        "model_version": "2024-08-06",
        "prompt_version": "p7",
        "index_version": "idx-3",
        "tenant": "acme",
        "user_id": "jane",
        "trace_id": "trace-1",
        "input_tokens": 1000,
        "output_tokens": 120,
        "cost_usd": 0.0035,
        "finish_reason": "stop",
        "input_text": "Where is my order?",
        "output_text": "On its way.",
        "attributes": {"region": "eu", "cache_hit": False, "retries": 2, "score": 0.5},
    }
    assert call.time.tzinfo is UTC


def test_an_error_set_without_raising_is_stored_as_an_error(fireline_api: Deployment) -> None:
    with fireline_api.client() as client:
        with client.call("support-bot") as call:
            call.set_error("content_filter")
        assert client.flush(5)

    stored = fireline_api.stored(call.call_id)
    assert (stored["status"], stored["error_type"]) == ("error", "content_filter")


def test_a_call_measured_by_the_app_is_stored_as_given(fireline_api: Deployment) -> None:
    started = datetime(2026, 3, 2, 8, 59, 30, 250_000, tzinfo=UTC)
    with fireline_api.client() as client:
        call_id = client.record(
            "support-bot",
            time=started,
            latency_ms=812.5,
            error_type="http_503",
            model="gpt-4o",
            retrieved_doc_ids=["d1", "d2"],
            eval_scores={"faithfulness": 0.9},
        )
        own_id = client.record("support-bot", call_id="app-chosen-1")  # unique in the module
        assert client.flush(5)

    stored = fireline_api.stored(call_id)
    assert stored["time"] == started
    assert (stored["status"], stored["error_type"]) == ("error", "http_503")
    assert stored["latency_ms"] == 812.5
    assert stored["retrieved_doc_ids"] == ["d1", "d2"]
    assert stored["eval_scores"] == {"faithfulness": 0.9}
    assert own_id == "app-chosen-1"
    assert fireline_api.stored("app-chosen-1")["status"] == "ok"


def test_many_calls_go_in_batches_no_bigger_than_max_batch(
    fireline_api: Deployment, proxy: Proxy
) -> None:
    with FirelineClient(proxy.url, fireline_api.token, **FAST, max_batch=100) as client:
        ids = [client.record("support-bot") for _ in range(250)]
        assert client.flush(5)
        stats = client.stats()

    assert all(fireline_api.stored(call_id) for call_id in ids)
    assert sorted(call["call_id"] for calls in proxy.requests for call in calls) == sorted(ids)
    assert max(len(calls) for calls in proxy.requests) <= 100
    assert (stats.sent, stats.queued, stats.retries) == (250, 0, 0)


def test_a_server_error_is_retried_with_the_same_call_ids(
    fireline_api: Deployment, proxy: Proxy
) -> None:
    proxy.replies.append(Reply(503, {"detail": "store busy"}))
    with FirelineClient(proxy.url, fireline_api.token, **FAST) as client:
        ids = [client.record("support-bot") for _ in range(3)]
        assert client.flush(5)
        stats = client.stats()

    assert proxy.call_ids(0) == proxy.call_ids(1) == ids
    assert all(fireline_api.stored(call_id) for call_id in ids)
    assert (stats.sent, stats.retries, stats.duplicates) == (3, 1, 0)


def test_a_batch_stored_whose_answer_was_lost_is_stored_once_when_resent(
    fireline_api: Deployment, proxy: Proxy
) -> None:
    proxy.replies.append(Reply(502, {"detail": "bad gateway"}, forward=True))
    with FirelineClient(proxy.url, fireline_api.token, **FAST) as client:
        ids = [client.record("support-bot") for _ in range(4)]
        assert client.flush(5)
        stats = client.stats()

    assert len(proxy.requests) == 2
    assert proxy.call_ids(0) == proxy.call_ids(1) == ids
    assert all(fireline_api.stored(call_id) for call_id in ids)
    assert (stats.sent, stats.duplicates, stats.retries) == (4, 4, 1)


def test_too_many_requests_and_timeouts_are_retried_too(
    fireline_api: Deployment, proxy: Proxy
) -> None:
    proxy.replies.extend([Reply(429, {"detail": "slow down"}), Reply(408, {"detail": "late"})])
    with FirelineClient(proxy.url, fireline_api.token, **FAST) as client:
        client.record("support-bot")
        assert client.flush(5)
        stats = client.stats()

    assert (stats.sent, stats.retries, stats.rejected) == (1, 2, 0)


def test_when_fireline_is_unreachable_the_oldest_calls_are_dropped_and_counted(
    fireline_api: Deployment,
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    client = FirelineClient(closed, fireline_api.token, **FAST, max_queue=5)
    started = time.monotonic()
    for _ in range(8):
        client.record("support-bot")
    assert not client.flush(0.3)
    stats = client.stats()
    assert not client.close(0.1)
    assert time.monotonic() - started < 2
    assert (stats.recorded, stats.dropped, stats.queued, stats.sent) == (8, 3, 5, 0)
    assert stats.retries >= 1
    assert client.stats().dropped == 8, "what is left at close is dropped"
    assert stats.last_error is not None
    assert "cannot reach fireline" in stats.last_error


def test_the_calls_kept_through_an_outage_are_the_newest(
    fireline_api: Deployment, proxy: Proxy
) -> None:
    proxy.rule = lambda calls: Reply(503, {"detail": "down"})
    with FirelineClient(proxy.url, fireline_api.token, **FAST, max_queue=5) as client:
        ids = [client.record("support-bot") for _ in range(8)]
        assert not client.flush(0.2)
        proxy.rule = None
        assert client.flush(5)
        stats = client.stats()

    stored = [call_id for call_id in ids if fireline_api.app.telemetry.get_call(call_id)]
    assert stored == ids[3:]
    assert (stats.sent, stats.dropped, stats.queued) == (5, 3, 0)


def test_a_refused_token_drops_the_batch_as_rejected_without_raising_or_logging_it(
    fireline_api: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "fl_not-a-real-token"
    with (
        caplog.at_level(logging.WARNING, logger="fireline.sdk"),
        FirelineClient(fireline_api.url, secret, **FAST) as client,
    ):
        ids = [client.record("support-bot")]
        assert client.flush(5)
        ids.append(client.record("support-bot"))
        assert client.flush(5)
        stats = client.stats()

    assert (stats.rejected, stats.sent, stats.retries, stats.queued) == (2, 0, 0, 0)
    assert stats.last_error is not None
    assert "401" in stats.last_error
    assert secret not in stats.last_error
    messages = [r.getMessage() for r in caplog.records if r.name == "fireline.sdk"]
    assert len(messages) == 1, "logged at most occasionally"
    assert "401" in messages[0]
    assert secret not in caplog.text
    assert [fireline_api.app.telemetry.get_call(call_id) for call_id in ids] == [None, None]


def test_a_call_fireline_cannot_store_is_refused_alone_not_with_its_batch(
    fireline_api: Deployment,
) -> None:
    with fireline_api.client() as client:
        good = client.record("support-bot")
        client.record("not a feature name!")
        assert client.flush(5)
        stats = client.stats()

    assert fireline_api.stored(good)
    assert (stats.sent, stats.invalid, stats.rejected) == (1, 1, 0)


def test_rows_fireline_refuses_are_dropped_and_the_rest_of_the_batch_is_resent(
    fireline_api: Deployment, proxy: Proxy
) -> None:
    problem = {"row": 2, "field": "model", "message": "not allowed"}
    proxy.replies.append(Reply(422, {"detail": "row 2: not allowed", "problems": [problem]}))
    with FirelineClient(proxy.url, fireline_api.token, **FAST) as client:
        ids = [client.record("support-bot") for _ in range(3)]
        assert client.flush(5)
        stats = client.stats()

    assert proxy.call_ids(1) == [ids[0], ids[2]]
    assert fireline_api.app.telemetry.get_call(ids[1]) is None
    assert (stats.sent, stats.rejected) == (2, 1)


def test_a_body_too_large_for_the_server_is_split_until_it_fits(
    fireline_api: Deployment, proxy: Proxy
) -> None:
    proxy.rule = lambda calls: Reply(413, {"detail": "too large"}) if len(calls) > 2 else None
    with FirelineClient(proxy.url, fireline_api.token, **FAST) as client:
        ids = [client.record("support-bot") for _ in range(7)]
        assert client.flush(5)
        stats = client.stats()

    assert all(fireline_api.stored(call_id) for call_id in ids)
    sizes = [len(calls) for calls in proxy.requests]
    assert sizes[:2] == [7, 3], "halved after each 413"
    assert sum(size for size in sizes if size <= 2) == 7
    assert (stats.sent, stats.rejected) == (7, 0)


def test_flush_and_close_give_up_on_a_server_that_never_answers() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        client = FirelineClient(url, "fl_x", flush_interval=0.05, timeout=10)
        client.record("support-bot")
        started = time.monotonic()
        assert client.flush(0.2) is False
        assert client.close(0.2) is False
        assert time.monotonic() - started < 1.5


def test_closing_the_client_sends_what_is_queued(fireline_api: Deployment) -> None:
    with FirelineClient(fireline_api.url, fireline_api.token, flush_interval=60) as client:
        call_id = client.record("support-bot")
    assert fireline_api.stored(call_id)
    assert client.stats().sent == 1
    client.record("support-bot")
    assert client.stats().dropped == 1, "a closed client drops what it is given"


def test_calls_queued_at_exit_are_sent_by_the_exit_hook(fireline_api: Deployment) -> None:
    script = (
        "import sys\n"
        "from fireline.sdk import FirelineClient\n"
        "client = FirelineClient(sys.argv[1], sys.argv[2], flush_interval=60)\n"
        "client.record('support-bot', call_id='sent-at-exit')\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, fireline_api.url, fireline_api.token],
        check=True,
        timeout=30,
    )
    assert fireline_api.stored("sent-at-exit")


def test_a_token_read_from_a_file_with_its_newline_still_works(fireline_api: Deployment) -> None:
    with FirelineClient(fireline_api.url, fireline_api.token + "\n", **FAST) as client:
        call_id = client.record("support-bot")
        assert client.flush(5)

    assert fireline_api.stored(call_id)
