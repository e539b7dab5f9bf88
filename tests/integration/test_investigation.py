"""Investigating an incident with a known cause: a prompt change v1 → v2 that breaks one
tenant, among decoy changes. Investigation must blame the prompt change, find the onset and
what the affected calls have in common, and list exactly the calls that failed because of it,
in Python, over the API and from the CLI."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from fireline.api.app import create_app
from fireline.cli import app as cli
from fireline.clock import SimulatedClock
from fireline.domain.access import Role
from fireline.investigate import Investigation, investigator_for
from fireline.runtime import Fireline
from fireline.settings import Settings
from fireline.tokens import issue_token
from tests.conftest import T0
from tests.servers import cli_env, run_fireline, serving

FEATURE = "support-bot"
TENANTS = ("acme", "globex", "initech", "umbrella")
CHANGE_AT = T0 + timedelta(hours=3)
CONFIG = "containment: {restoration: {enabled: false}}\n"


@dataclass(frozen=True)
class Truth:
    """The deployment's data directory, the incident and the calls broken by the change."""

    data_dir: Path
    incident_id: int
    detected_at: datetime
    failing: frozenset[str]
    end: datetime


def send_minute(app: Fireline, clock: SimulatedClock, rng: np.random.Generator) -> set[str]:
    """A minute of calls from four tenants; after the change, v2 fails for acme. Returns the
    ids of the calls the change broke."""
    start = clock.now()
    changed = start >= CHANGE_AT
    broken: set[str] = set()
    rows = []
    for i, at in enumerate(np.sort(rng.uniform(0, 60, 100)), start=1):
        call_id = f"{start:%H%M}-{i}"
        tenant = TENANTS[int(rng.integers(len(TENANTS)))]
        injected = changed and tenant == "acme" and rng.random() < 0.6
        failed = injected or rng.random() < 0.004
        if injected:
            broken.add(call_id)
        rows.append(
            (
                i,
                {
                    "call_id": call_id,
                    "time": (start + timedelta(seconds=float(at))).isoformat(),
                    "feature": FEATURE,
                    "tenant": tenant,
                    "user": f"{tenant}-user-{int(rng.integers(40))}",
                    "model": "gpt-x",
                    "model_version": "2025-01",
                    "prompt_version": "v2" if changed else "v1",
                    "index_version": "i8" if start >= T0 + timedelta(hours=1) else "i7",
                    "status": "error" if failed else "ok",
                    "error_type": "bad_format" if failed else None,
                    "attributes": {"locale": "de-DE" if tenant == "acme" else "en-US"},
                },
            )
        )
    app.ingest.ingest_rows(rows)
    clock.advance(60)
    return broken


CHANGES: list[dict[str, Any]] = [
    {"change_id": "prompt-v1", "time": T0 - timedelta(days=2), "kind": "prompt", "version": "v1"},
    {"change_id": "index-i7", "time": T0 - timedelta(days=2), "kind": "index", "version": "i7"},
    {
        "change_id": "index-i8",
        "time": T0 + timedelta(hours=1),
        "kind": "index",
        "version": "i8",
        "previous_version": "i7",
    },
    {
        "change_id": "prompt-v2",
        "time": CHANGE_AT,
        "kind": "prompt",
        "version": "v2",
        "previous_version": "v1",
        "description": "new answer template",
    },
    {
        "change_id": "search-model",
        "time": CHANGE_AT - timedelta(minutes=2),
        "kind": "model",
        "version": "gpt-y",
        "feature": "search",
    },
]


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> Truth:
    data_dir = tmp_path_factory.mktemp("investigation")
    (data_dir / "fireline.yaml").write_text(CONFIG)
    clock = SimulatedClock(T0)
    app = Fireline(Settings(data_dir=data_dir), clock=clock, lateness_s=0)
    rng = np.random.default_rng(8)
    try:
        rows = [
            (i, {"feature": FEATURE, **c, "time": c["time"].isoformat()})
            for i, c in enumerate(CHANGES, start=1)
        ]
        app.ingest.ingest_change_rows(rows)
        for _ in range(180):
            send_minute(app, clock, rng)
        app.tick()
        assert app.list_incidents() == []
        failing: set[str] = set()
        while not app.list_incidents():
            failing |= send_minute(app, clock, rng)
            app.tick()
            assert clock.now() < CHANGE_AT + timedelta(minutes=30), "never detected"
        for _ in range(10):
            failing |= send_minute(app, clock, rng)
            app.tick()
        [incident] = app.list_incidents()
        assert incident.incident_id is not None
        return Truth(
            data_dir, incident.incident_id, incident.detected_at, frozenset(failing), clock.now()
        )
    finally:
        app.close()


@pytest.fixture
def deployment(truth: Truth) -> Iterator[Fireline]:
    app = Fireline(Settings(data_dir=truth.data_dir), clock=SimulatedClock(truth.end), lateness_s=0)
    yield app
    app.close()


def investigate(app: Fireline, incident_id: int) -> Investigation:
    with app.state.unit_of_work(read_only=True) as tx:
        return investigator_for(app).investigate(tx, incident_id, app.clock.now())


def test_the_prompt_change_is_the_first_suspect_and_can_be_rolled_back(
    deployment: Fireline, truth: Truth
) -> None:
    found = investigate(deployment, truth.incident_id)
    [first, *others] = found.suspects
    assert first.change.change_id == "prompt-v2"
    assert first.rollback_available
    assert first.rollback_target == "v1"
    assert first.concentration is not None
    assert first.concentration.p_value < 1e-6
    assert "index-i8" in {s.change.change_id for s in others}
    assert "search-model" not in {s.change.change_id for s in found.suspects}


def test_the_onset_is_within_minutes_of_the_change_and_the_delay_follows_from_it(
    deployment: Fireline, truth: Truth
) -> None:
    found = investigate(deployment, truth.incident_id)
    assert found.onset.method == "change_point"
    assert abs(found.onset.at - CHANGE_AT) <= timedelta(minutes=3)
    assert found.onset.low <= found.onset.at <= found.onset.high
    assert found.onset.llr > 10
    assert found.detected_at == truth.detected_at
    assert found.detection_delay_s == (truth.detected_at - found.onset.at).total_seconds()


def test_the_tenant_and_the_new_prompt_are_what_affected_calls_have_in_common(
    deployment: Fireline, truth: Truth
) -> None:
    found = investigate(deployment, truth.incident_id)
    significant = {(s.dimension, s.value) for s in found.segments if s.significant}
    assert {("tenant", "acme"), ("prompt_version", "v2"), ("locale", "de-DE")} <= significant
    assert not {("tenant", "globex"), ("index_version", "i8")} & significant


def test_the_blast_radius_is_the_calls_the_change_broke(deployment: Fireline, truth: Truth) -> None:
    found = investigate(deployment, truth.incident_id)
    with deployment.state.unit_of_work(read_only=True) as tx:
        rows = list(investigator_for(deployment).affected(tx, truth.incident_id, truth.end))
    listed = {r["call_id"] for r in rows}
    hits = len(listed & truth.failing)
    assert hits / len(listed) >= 0.9, "precision"
    assert hits / len(truth.failing) >= 0.9, "recall"
    assert found.blast.calls == len(rows)
    assert found.blast.tenants >= 1
    assert 1 <= found.blast.users <= len(rows)
    assert found.blast.live


@pytest.fixture
def viewer(deployment: Fireline, truth: Truth) -> Iterator[httpx.Client]:
    name = f"viewer-{uuid.uuid4().hex[:8]}"
    token = issue_token(deployment.state, name, Role.VIEWER, now=truth.end)
    with (
        serving(create_app(deployment)) as url,
        httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as client,
    ):
        yield client


def test_a_viewer_reads_the_investigation_over_the_api(viewer: httpx.Client, truth: Truth) -> None:
    answer = viewer.get(f"/api/incidents/{truth.incident_id}/investigation")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["suspects"][0]["change_id"] == "prompt-v2"
    assert body["suspects"][0]["rollback_available"] is True
    assert body["detection_delay_s"] >= 0
    significant = {(s["dimension"], s["value"]) for s in body["segments"] if s["significant"]}
    assert ("tenant", "acme") in significant
    assert body["blast_radius"]["calls"] > 0


def test_affected_calls_export_as_csv_and_jsonl_over_the_api(
    viewer: httpx.Client, truth: Truth
) -> None:
    path = f"/api/incidents/{truth.incident_id}/affected"
    as_csv = viewer.get(path, params={"format": "csv"})
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["content-type"].startswith("text/csv")
    records = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert {r["tenant"] for r in records} >= {"acme"}
    assert len({r["call_id"] for r in records} & truth.failing) >= 0.9 * len(truth.failing)
    assert all(r["why"] and r["status"] == "error" for r in records)

    as_jsonl = viewer.get(path, params={"format": "jsonl", "limit": 5})
    assert as_jsonl.status_code == 200, as_jsonl.text
    objects = [json.loads(line) for line in as_jsonl.text.splitlines()]
    assert [o["call_id"] for o in objects] == [r["call_id"] for r in records[:5]]
    assert objects[0]["prompt_version"] == "v2"


def test_an_unknown_incident_is_404_and_a_bad_format_or_limit_is_422(
    viewer: httpx.Client, truth: Truth
) -> None:
    assert viewer.get("/api/incidents/999/investigation").status_code == 404
    assert viewer.get("/api/incidents/999/affected").status_code == 404
    path = f"/api/incidents/{truth.incident_id}/affected"
    assert viewer.get(path, params={"format": "xml"}).status_code == 422
    assert viewer.get(path, params={"limit": 0}).status_code == 422
    assert viewer.get("/api/incidents/0/investigation").status_code == 422


def test_the_routes_need_a_token_that_may_read_incidents(
    deployment: Fireline, viewer: httpx.Client, truth: Truth
) -> None:
    path = f"/api/incidents/{truth.incident_id}/investigation"
    assert httpx.get(f"{viewer.base_url}{path}").status_code == 401
    app_token = issue_token(
        deployment.state, f"app-{uuid.uuid4().hex[:8]}", Role.APP, now=truth.end
    )
    refused = httpx.get(
        f"{viewer.base_url}{path}", headers={"Authorization": f"Bearer {app_token}"}
    )
    assert refused.status_code == 403
    assert "/api/incidents/{incident_id}/affected" in viewer.get("/openapi.json").json()["paths"]


def test_the_cli_investigates_and_exports_affected_calls(truth: Truth, tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--data-dir", str(truth.data_dir)]
    shown = runner.invoke(cli, [*base, "investigate", str(truth.incident_id)])
    assert shown.exit_code == 0, shown.output
    for expected in ("prompt-v2", "acme", "blast radius", "onset"):
        assert expected in shown.output

    as_json = runner.invoke(cli, [*base, "investigate", str(truth.incident_id), "--json"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.output)["suspects"][0]["change_id"] == "prompt-v2"

    out = tmp_path / "affected.jsonl"
    exported = runner.invoke(
        cli, [*base, "affected", str(truth.incident_id), "--format", "jsonl", "--out", str(out)]
    )
    assert exported.exit_code == 0, exported.output
    ids = {json.loads(line)["call_id"] for line in out.read_text().splitlines()}
    assert len(ids & truth.failing) >= 0.9 * len(truth.failing)
    assert f"{len(ids)} affected calls written" in exported.output

    as_csv = runner.invoke(cli, [*base, "affected", str(truth.incident_id), "--limit", "3"])
    assert as_csv.exit_code == 0, as_csv.output
    assert as_csv.output.splitlines()[0].startswith("call_id,time,tenant")
    assert len(as_csv.output.splitlines()) == 4


def test_the_cli_refuses_an_unknown_incident_and_a_bad_format(truth: Truth) -> None:
    env = cli_env(truth.data_dir)
    unknown = run_fireline("investigate", "999", env=env)
    assert unknown.returncode == 1
    assert "incident 999 does not exist" in unknown.stderr
    bad = run_fireline("affected", str(truth.incident_id), "--format", "xml", env=env)
    assert bad.returncode == 2
    assert "xml" in bad.stderr


def test_a_latency_incident_of_one_tenant_is_investigated_from_the_metric() -> None:
    clock = SimulatedClock(T0)
    app = Fireline.in_memory(clock)
    rng = np.random.default_rng(3)
    slow: set[str] = set()

    def minute(broken: bool) -> None:
        start, rows = clock.now(), []
        for i, at in enumerate(np.sort(rng.uniform(0, 60, 100)), start=1):
            tenant = TENANTS[int(rng.integers(len(TENANTS)))]
            latency = float(rng.lognormal(np.log(800), 0.2))
            if broken and tenant == "acme":
                latency *= 4
                slow.add(f"{start:%H%M}-{i}")
            at_time = (start + timedelta(seconds=float(at))).isoformat()
            rows.append((i, {"call_id": f"{start:%H%M}-{i}", "time": at_time, "feature": FEATURE,
                             "tenant": tenant, "latency_ms": latency}))  # fmt: skip
        app.ingest.ingest_rows(rows)
        clock.advance(60)

    try:
        for _ in range(120):
            minute(broken=False)
        app.tick()
        onset = clock.now()
        while not app.list_incidents():
            minute(broken=True)
            app.tick()
        for _ in range(5):
            minute(broken=True)
        [incident] = app.list_incidents()
        assert incident.incident_id is not None
        with app.state.unit_of_work(read_only=True) as tx:
            found = investigator_for(app).investigate(tx, incident.incident_id, clock.now())
            rows = list(investigator_for(app).affected(tx, incident.incident_id, clock.now()))
    finally:
        app.close()
    assert found.signal.startswith("latency")
    assert abs(found.onset.at - onset) <= timedelta(minutes=2)
    assert found.segments[0].value == "acme"
    assert found.segments[0].significant
    listed = {r["call_id"] for r in rows}
    assert len(listed & slow) >= 0.9 * len(slow)
    assert len(listed & slow) >= 0.8 * len(listed)
    assert "latency_ms >" in rows[0]["why"]
