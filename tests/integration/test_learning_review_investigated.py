"""The review draft of an incident with a known cause (a prompt change v1 → v2 that breaks
one tenant, rolled back during the response): it names the change as the top suspect, the
tenant as what affected calls have in common, the blast radius and the onset, and plots the
signal, in Python, over the API and from the CLI. An investigation that fails leaves those
parts "not computed" and the draft still renders."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
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
from fireline.learn import service as learn_service
from fireline.learn.service import LearningService
from fireline.respond.rollback import roll_back
from fireline.runtime import Fireline
from fireline.settings import Settings
from fireline.tokens import issue_token
from tests.conftest import T0
from tests.servers import serving

FEATURE = "support-bot"
TENANTS = ("acme", "globex", "initech", "umbrella")
CHANGE_AT = T0 + timedelta(hours=2)
CONFIG = "containment: {restoration: {enabled: false}}\n"
SVG = "{http://www.w3.org/2000/svg}"


@dataclass(frozen=True)
class Truth:
    """The deployment's data directory, the incident, the calls the change broke and the
    time the test's clock ended at."""

    data_dir: Path
    incident_id: int
    failing: frozenset[str]
    end: datetime


def send_minute(
    app: Fireline, clock: SimulatedClock, rng: np.random.Generator, *, v2: bool
) -> set[str]:
    """A minute of calls from four tenants; on prompt v2, acme's calls fail. Returns the ids
    of the calls the change broke."""
    start = clock.now()
    broken: set[str] = set()
    rows = []
    for i, at in enumerate(np.sort(rng.uniform(0, 60, 100)), start=1):
        call_id = f"{start:%H%M}-{i}"
        tenant = TENANTS[int(rng.integers(len(TENANTS)))]
        injected = v2 and tenant == "acme" and rng.random() < 0.6
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
                    "prompt_version": "v2" if v2 else "v1",
                    "status": "error" if failed else "ok",
                    "error_type": "bad_format" if failed else None,
                },
            )
        )
    app.ingest.ingest_rows(rows)
    clock.advance(60)
    return broken


CHANGES: list[dict[str, Any]] = [
    {"change_id": "prompt-v1", "time": T0 - timedelta(days=2), "kind": "prompt", "version": "v1"},
    {
        "change_id": "flag-dark-mode",
        "time": CHANGE_AT - timedelta(minutes=50),
        "kind": "flag",
        "version": "on",
    },
    {
        "change_id": "prompt-v2",
        "time": CHANGE_AT,
        "kind": "prompt",
        "version": "v2",
        "previous_version": "v1",
        "description": "new answer template",
    },
]


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> Truth:
    data_dir = tmp_path_factory.mktemp("review-investigated")
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
        while clock.now() < CHANGE_AT:
            send_minute(app, clock, rng, v2=False)
        app.tick()
        assert app.list_incidents() == []
        failing: set[str] = set()
        while not app.list_incidents():
            failing |= send_minute(app, clock, rng, v2=True)
            app.tick()
            assert clock.now() < CHANGE_AT + timedelta(minutes=30), "never detected"
        for _ in range(10):
            failing |= send_minute(app, clock, rng, v2=True)
            app.tick()
        [incident] = app.list_incidents()
        assert incident.incident_id is not None
        with app.acting() as tx:
            roll_back(tx, FEATURE, "prompt", actor="ana", reason="bad template", now=clock.now())
        for _ in range(10):
            send_minute(app, clock, rng, v2=False)
            app.tick()
        app.resolve(incident.incident_id, actor="ana", reason="prompt rolled back")
        return Truth(data_dir, incident.incident_id, frozenset(failing), clock.now())
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


def test_the_draft_names_the_injected_change_as_the_top_suspect_and_its_rollback(
    deployment: Fireline, truth: Truth
) -> None:
    text = LearningService(deployment).review(truth.incident_id)
    assert "1. prompt v2 (was v1), id prompt-v2" in text
    assert "new answer template" in text
    assert "rollback available (to v1)" in text
    assert "prompt of support-bot rolled back from v2 to v1: bad template" in text
    assert "2. flag on" in text
    section = text[text.index("1. prompt v2") : text.index("2. flag on")]
    assert "p-value" in section
    assert "before the onset" in section


def test_the_draft_shows_the_tenant_in_common_the_blast_radius_and_the_onset(
    deployment: Fireline, truth: Truth
) -> None:
    found = investigate(deployment, truth.incident_id)
    assert found.onset.method == "change_point"
    assert abs(found.onset.at - CHANGE_AT) <= timedelta(minutes=3)
    text = LearningService(deployment).review(truth.incident_id)
    common = text[text.index("## What affected requests have in common") :]
    common = common[: common.index("## Detection")]
    assert "- tenant = acme:" in common
    assert "globex" not in common
    blast = found.blast
    assert f"{blast.calls} affected calls, {blast.users} users, {blast.tenants} tenants" in text
    assert abs(blast.calls - len(truth.failing)) <= 0.1 * len(truth.failing)
    assert blast.tenants >= 1  # acme, and a few background errors elsewhere
    assert f"Onset: {found.onset.at:%Y-%m-%d %H:%M:%S} UTC (estimated from the signal" in text
    delay = found.detection_delay_s
    assert delay > 0
    assert "Detection delay (detection − onset): " in text
    assert "not computed" not in text


def test_the_html_draft_embeds_the_signal_plot_around_the_incident(
    deployment: Fireline, truth: Truth
) -> None:
    page = LearningService(deployment).review(truth.incident_id, html=True)
    figure = page[page.index('<figure class="signal">') : page.index("</figure>")]
    root = ET.fromstring(figure[figure.index("<svg") : figure.rindex("</svg>") + len("</svg>")])
    labels = {t.text for t in root.iter(f"{SVG}text")}
    assert {"onset", "detected", "resolved"} <= labels
    assert any(label and label.startswith("error_rate") for label in labels)
    # one panel per alerting signal (error_rate, and error_rate of tenant acme)
    [line, *_] = root.iter(f"{SVG}polyline")
    assert len(line.attrib["points"].split()) >= 60 + 20  # a point a minute while calls came
    # the x axis runs from an hour before the onset to 30 minutes after the resolution
    onset = investigate(deployment, truth.incident_id).onset.at
    assert f"{onset - timedelta(hours=1):%H:%M}" in labels
    assert f"{truth.end + timedelta(minutes=29):%H:%M}" in labels


@pytest.fixture
def viewer(deployment: Fireline, truth: Truth) -> Iterator[httpx.Client]:
    token = issue_token(
        deployment.state, f"viewer-{uuid.uuid4().hex[:8]}", Role.VIEWER, now=truth.end
    )
    with (
        serving(create_app(deployment)) as url,
        httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as client,
    ):
        yield client


def test_the_api_serves_the_investigated_draft_and_its_signal_plot(
    viewer: httpx.Client, truth: Truth
) -> None:
    path = f"/api/incidents/{truth.incident_id}/review"
    page = viewer.get(path, params={"format": "html"})
    assert page.status_code == 200, page.text
    assert "<svg" in page.text
    assert "tenant = acme" in page.text
    plot = viewer.get(f"{path}/signal.svg")
    assert plot.status_code == 200, plot.text
    assert plot.headers["content-type"].startswith("image/svg+xml")
    ET.fromstring(plot.text)
    assert viewer.get("/api/incidents/999/review/signal.svg").status_code == 404


def test_the_cli_writes_the_markdown_draft_and_the_signal_plot_next_to_it(
    truth: Truth, tmp_path: Path
) -> None:
    out = tmp_path / "review-1.md"
    result = CliRunner().invoke(
        cli, ["--data-dir", str(truth.data_dir), "review-draft", str(truth.incident_id),
              "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, (result.output, result.exception)
    plot = tmp_path / "review-1-signal.svg"
    assert "](review-1-signal.svg)" in out.read_text()
    assert "1. prompt v2 (was v1)" in out.read_text()
    root = ET.fromstring(plot.read_text())
    assert root.tag == f"{SVG}svg"
    assert str(plot) in result.output


def test_a_failing_investigation_leaves_its_parts_not_computed(
    deployment: Fireline, truth: Truth, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(instance: Fireline) -> Any:
        raise RuntimeError("telemetry store unavailable")

    monkeypatch.setattr(learn_service, "investigator_for", broken)
    text = LearningService(deployment).review(truth.incident_id)
    assert "Ranked suspects: not computed (the investigation failed: RuntimeError)" in text
    assert "not computed: fireline has no count of affected calls" in text
    assert "## AI-specific questions" in text
    # the plot does not depend on the investigation: it starts from the alert's onset
    assert "<svg" in LearningService(deployment).review(truth.incident_id, html=True)
