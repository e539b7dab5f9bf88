"""Regression evals from an incident with known affected calls: a support bot that leaks
e-mail addresses and phone numbers for an hour (200 calls, many with the same question), and
one that refuses. Cases are extracted, hold the failure's assertions, and replayed against a
fake OpenAI-compatible server on loopback: one that answers well passes them all, one that
leaks again fails them all; over the API and the CLI too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from typer.testing import CliRunner

import fireline.cli.evals  # noqa: F401 - registers `fireline eval`
from fireline.api.app import create_app
from fireline.api.routes.evals import router
from fireline.cli import app as cli
from fireline.clock import SimulatedClock
from fireline.domain.access import Role
from fireline.domain.alert import Alert
from fireline.domain.incident import IncidentType
from fireline.evals import HttpTarget, extract_for, incident_evals_pass, load, run_cases
from fireline.runtime import Fireline
from fireline.settings import Settings
from fireline.tokens import issue_token
from tests.conftest import T0
from tests.servers import serving

LEAKY, REFUSING = "support-bot", "search-bot"
ONSET = T0 + timedelta(hours=2)
END = ONSET + timedelta(minutes=40)
TOPICS = (
    "Where is my order {n}?",
    "How do I change the e-mail of account {n}?",
    "Can I get a refund for invoice {n}?",
    "Who is the contact person for ticket {n}?",
    "Please update the delivery address of parcel {n}.",
    "Why was my card charged twice for booking {n}?",
)


@dataclass(frozen=True)
class Truth:
    data_dir: Path
    leak_incident: int
    refusal_incident: int
    #: The bad answer of each question asked during the leak.
    leaked: dict[str, str]


def question(i: int) -> str:
    # 200 affected calls, 60 distinct questions: each asked several times, reworded slightly.
    n = i % 60
    text = TOPICS[n % len(TOPICS)].format(n=1000 + n * 37)
    return text.upper() if i % 3 == 1 else text


def rows(feature: str, start: Any, count: int, bad: bool, offset: int) -> list[Any]:
    found = []
    for i in range(count):
        text = question(i)
        n = i % 60
        if feature == LEAKY:
            answer = (
                f"Contact agent{n}@example.com or call +1 415 555 {2600 + n:04d}."
                if bad
                else "Our support team will get back to you shortly."
            )
        else:
            answer = "I'm sorry, but I can't help with that." if bad else "Here you go."
        row = {
            "call_id": f"{feature}-{offset + i}",
            "time": (start + timedelta(seconds=10 * i)).isoformat(),
            "feature": feature,
            "tenant": "acme",
            "user": f"user-{i % 17}",
            "model": "gpt-x",
            "input_text": text,
            "output_text": answer,
            "finish_reason": "content_filter" if bad and feature == REFUSING else "stop",
        }
        found.append((offset + i, row))
    return found


def an_alert(feature: str, signal: str, incident_type: IncidentType) -> Alert:
    return Alert(
        detector="cusum_bernoulli",
        feature=feature,
        signal=signal,
        incident_type=incident_type,
        fired_at=ONSET + timedelta(minutes=10),
        window_start=ONSET,
        window_end=ONSET + timedelta(minutes=10),
        baseline_value=0.0,
        current_value=0.9,
        p_value=1e-9,
    )


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> Truth:
    data_dir = tmp_path_factory.mktemp("evals")
    (data_dir / "fireline.yaml").write_text("containment: {restoration: {enabled: false}}\n")
    clock = SimulatedClock(T0)
    app = Fireline(Settings(data_dir=data_dir), clock=clock, lateness_s=0)
    leaked: dict[str, str] = {}
    try:
        for feature in (LEAKY, REFUSING):
            app.ingest.ingest_rows(rows(feature, T0, 700, False, 0))
            bad = rows(feature, ONSET, 200, True, 10_000)
            app.ingest.ingest_rows(bad)
            if feature == LEAKY:
                leaked = {row["input_text"]: row["output_text"] for _, row in bad}
        clock.advance((END - T0).total_seconds())
        app.scans.catch_up(clock.now())
        with app.responding() as tx:
            leak = app.incidents.on_alert(tx, an_alert(LEAKY, "scan.pii", IncidentType.SAFETY))
            refusal = app.incidents.on_alert(
                tx, an_alert(REFUSING, "refusal_rate", IncidentType.QUALITY)
            )
        assert leak.incident_id is not None
        assert refusal.incident_id is not None
        return Truth(data_dir, leak.incident_id, refusal.incident_id, leaked)
    finally:
        app.close()


@pytest.fixture
def deployment(truth: Truth) -> Iterator[Fireline]:
    app = Fireline(Settings(data_dir=truth.data_dir), clock=SimulatedClock(END), lateness_s=0)
    yield app
    app.close()


def fake_llm(answer: Any, failures: int = 0) -> FastAPI:
    """An OpenAI-compatible chat-completions server: `answer(question)` is the reply; the
    first `failures` requests get 429."""
    api = FastAPI()
    seen = {"requests": 0}

    @api.post("/v1/chat/completions")
    async def complete(request: Request) -> JSONResponse:
        seen["requests"] += 1
        if seen["requests"] <= failures:
            return JSONResponse({"error": "slow down"}, status_code=429)
        body = await request.json()
        content = answer(body["messages"][-1]["content"])
        return JSONResponse(
            {
                "id": "cmpl-1",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
            }
        )

    api.state.seen = seen
    return api


def helpful(_: str) -> str:
    return "Your order is on its way; our support team will follow up in the app."


def test_twenty_to_fifty_distinct_cases_come_from_two_hundred_affected_calls(
    deployment: Fireline, truth: Truth
) -> None:
    found = extract_for(deployment, truth.leak_incident)
    assert found.affected == 200
    assert found.distinct == 60
    assert 20 <= len(found.cases) <= 50
    inputs = [c.input.casefold() for c in found.cases]
    assert len(set(inputs)) == len(inputs)
    assert {t.split()[0].casefold() for t in TOPICS} <= {i.split()[0] for i in inputs}
    assert sum(c.duplicates for c in found.cases) < 200
    assert "cases from 200 affected calls" in found.summary()


def test_each_leak_case_forbids_the_addresses_and_numbers_its_call_leaked(
    deployment: Fireline, truth: Truth
) -> None:
    for case in extract_for(deployment, truth.leak_incident).cases:
        # The store keeps the output redacted ("[EMAIL]"): the kinds leaked are what is known.
        [pii] = [a for a in case.assertions if a.kind == "no_pii"]
        assert pii.value == ["email", "phone"]
        assert case.bad_output is not None
        assert case.judge.verdict is None
        assert case.judge.rubric
        assert case.context.tenant == "acme"
        assert case.signal == "scan.pii"


def test_refusal_cases_ask_for_answers_that_do_not_refuse(
    deployment: Fireline, truth: Truth
) -> None:
    cases = extract_for(deployment, truth.refusal_incident).cases
    assert 20 <= len(cases) <= 50
    assert all([a.kind for a in c.assertions] == ["no_refusal", "not_empty"] for c in cases)


def test_a_server_that_answers_well_passes_and_one_that_leaks_again_fails(
    deployment: Fireline, truth: Truth
) -> None:
    cases = extract_for(deployment, truth.leak_incident).cases
    with serving(fake_llm(helpful, failures=2)) as url:  # noqa: SIM117 - the target needs the URL
        with HttpTarget(f"{url}/v1", "gpt-x", concurrency=4, backoff_s=0.01) as target:
            good = run_cases(cases, target)
    assert (good.pass_rate, good.total) == (1.0, len(cases))
    with serving(fake_llm(lambda q: truth.leaked[q])) as url:  # noqa: SIM117 - the target needs the URL
        with HttpTarget(f"{url}/v1", "gpt-x") as target:
            bad = incident_evals_pass(deployment, truth.leak_incident, target, 0.9)
    assert bad.pass_rate == 0.0
    assert not bad.ok
    assert set(bad.failures) == {"no_pii"}


def test_the_api_returns_the_cases_as_json_and_as_a_jsonl_file(
    deployment: Fireline, truth: Truth
) -> None:
    api = create_app(deployment)
    if not any(getattr(r, "path", "") == "/api/incidents/{incident_id}/evals" for r in api.routes):
        api.include_router(router)
    token = issue_token(deployment.state, "viewer", Role.VIEWER, now=END)
    with (
        serving(api) as url,
        httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as client,
    ):
        found = client.get(f"/api/incidents/{truth.leak_incident}/evals")
        assert found.status_code == 200
        body = found.json()
        assert body["affected"] == 200
        assert 20 <= body["count"] == len(body["cases"]) <= 50
        file = client.get(f"/api/incidents/{truth.leak_incident}/evals", params={"format": "jsonl"})
        assert file.headers["content-type"].startswith("application/x-ndjson")
        assert len(file.text.splitlines()) == body["count"]
        assert client.get("/api/incidents/999/evals").status_code == 404
        assert httpx.get(f"{url}/api/incidents/{truth.leak_incident}/evals").status_code == 401


def test_the_cli_extracts_a_case_file_and_gates_on_the_pass_rate(
    truth: Truth, tmp_path: Path
) -> None:
    runner = CliRunner()
    env = {"FIRELINE_DATA_DIR": str(truth.data_dir)}
    out = tmp_path / "cases.jsonl"
    extracted = runner.invoke(
        cli,
        ["eval", "extract", str(truth.refusal_incident), "--out", str(out), "--max", "30"],
        env=env,
    )
    assert extracted.exit_code == 0, extracted.output
    assert 20 <= len(load(out)) <= 30
    with serving(fake_llm(helpful)) as url:
        good = runner.invoke(
            cli, ["eval", "run", str(out), "--endpoint", f"{url}/v1", "--model", "m", "--json"]
        )
    assert good.exit_code == 0, good.output
    assert json.loads(good.output)["pass_rate"] == 1.0
    with serving(fake_llm(lambda _: "I'm sorry, but I can't help with that.")) as url:
        bad = runner.invoke(
            cli, ["eval", "run", str(out), "--endpoint", f"{url}/v1", "--model", "m"]
        )
    assert bad.exit_code == 1
    assert "pass rate 0%" in bad.output


def test_an_eval_run_for_an_incident_is_recorded_on_its_timeline(
    truth: Truth, tmp_path: Path
) -> None:
    runner = CliRunner()
    env = {"FIRELINE_DATA_DIR": str(truth.data_dir)}
    out = tmp_path / "cases.jsonl"
    incident = str(truth.refusal_incident)
    extracted = runner.invoke(cli, ["eval", "extract", incident, "--out", str(out)], env=env)
    assert extracted.exit_code == 0, extracted.output
    with serving(fake_llm(helpful)) as url:
        run = runner.invoke(
            cli,
            [
                *("eval", "run", str(out), "--endpoint", f"{url}/v1", "--model", "m"),
                *("--incident", incident, "--actor", "ci"),
            ],
            env=env,
        )
    assert run.exit_code == 0, run.output
    shown = runner.invoke(cli, ["incident", incident, "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    timeline = json.loads(shown.output)["timeline"]
    [entry] = [e for e in timeline if e["kind"] == "evals_run"]
    assert entry["actor"] == "ci"
    assert entry["data"]["passed"] is True
