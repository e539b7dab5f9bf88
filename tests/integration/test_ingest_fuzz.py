"""Random payloads to every ingest endpoint: always an answer below 500, never a partial write."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fireline.api.app import create_app
from fireline.clock import SimulatedClock
from fireline.domain.access import Role
from fireline.runtime import Fireline
from fireline.tokens import issue_token
from tests.conftest import T0
from tests.servers import serving

ENDPOINTS = {
    "/v1/calls": "calls",
    "/v1/feedback": "feedback",
    "/v1/changes": "changes",
    "/v1/alertmanager": "alerts",
    "/v1/traces": "resourceSpans",
}
CALL_FIELDS = [
    "call_id",
    "time",
    "feature",
    "status",
    "error_type",
    "latency_ms",
    "model",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "user",
    "input_text",
    "attributes",
    "retrieved_doc_ids",
    "eval_scores",
    "kind",
    "version",
    "labels",
    "startsAt",
    "status",
    "spans",
    "scopeSpans",
    "traceId",
    "spanId",
    "nonsense",
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(
        [
            "2026-03-02T09:00:00Z",
            "bot",
            "error",
            "prompt",
            "firing",
            "thumbs_down",
            "9999-01-01T00:00:00Z",
        ]
    ),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
rows = st.dictionaries(st.sampled_from(CALL_FIELDS), json_values, max_size=8)


@pytest.fixture(scope="module")
def deployment() -> Iterator[tuple[Fireline, httpx.Client]]:
    app = Fireline.in_memory(SimulatedClock(T0))
    token = issue_token(app.state, "fuzz", Role.ADMIN, now=T0)
    with (
        serving(create_app(app)) as url,
        httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as client,
    ):
        yield app, client
    app.close()


def stored(app: Fireline) -> tuple[int, int, int]:
    with app.state.unit_of_work(read_only=True) as tx:
        changes = len(tx.list_changes(limit=100_000))
        incidents = len(tx.list_incidents(limit=100_000))
    return app.telemetry.count_calls(), changes, incidents


def check(app: Fireline, response: httpx.Response, before: tuple[int, int, int]) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert stored(app) == before, "a refused request wrote something"
        assert response.content


FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.mark.parametrize("path", list(ENDPOINTS))
@FUZZ
@given(payload=json_values)
def test_any_json_body_gets_an_answer_below_500(
    deployment: tuple[Fireline, httpx.Client], path: str, payload: Any
) -> None:
    app, client = deployment
    before = stored(app)
    check(app, client.post(path, json=payload), before)


@pytest.mark.parametrize("path", list(ENDPOINTS))
@FUZZ
@given(batch=st.lists(rows, min_size=1, max_size=5))
def test_batches_of_almost_valid_records_get_an_answer_below_500(
    deployment: tuple[Fireline, httpx.Client], path: str, batch: list[dict[str, Any]]
) -> None:
    app, client = deployment
    before = stored(app)
    body: dict[str, Any] = {ENDPOINTS[path]: batch}
    if path == "/v1/alertmanager":
        body["version"] = "4"
    check(app, client.post(path, json=body), before)


@pytest.mark.parametrize("path", list(ENDPOINTS))
@FUZZ
@given(
    body=st.binary(max_size=300),
    content_type=st.sampled_from(
        ["application/json", "application/x-protobuf", "text/plain", "application/octet-stream"]
    ),
    compressed=st.booleans(),
)
def test_random_bytes_in_any_encoding_get_an_answer_below_500(
    deployment: tuple[Fireline, httpx.Client],
    path: str,
    body: bytes,
    content_type: str,
    compressed: bool,
) -> None:
    app, client = deployment
    before = stored(app)
    headers = {"content-type": content_type}
    if compressed:
        body = gzip.compress(body)
        headers["content-encoding"] = "gzip"
    check(app, client.post(path, content=body, headers=headers), before)


def test_the_fuzzer_reaches_the_storing_path(deployment: tuple[Fireline, httpx.Client]) -> None:
    """A sanity check that valid batches still go through the same server."""
    app, client = deployment
    row = {"time": T0.isoformat(), "feature": "bot", "call_id": "fuzz-ok"}
    response = client.post(
        "/v1/calls",
        content=json.dumps({"calls": [row]}),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 200
    assert app.telemetry.get_call("fuzz-ok") is not None
