"""Post-incident learning through the real API and the command line, on SQLite and
PostgreSQL: metrics and their trend plot, action items on the timeline, and the review draft
that only a commander's acceptance turns into a reviewed incident."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from fireline.api.app import create_app
from fireline.cli import app as cli
from fireline.clock import SimulatedClock
from fireline.domain.access import Role
from fireline.domain.alert import Alert
from fireline.domain.incident import Incident, IncidentState, IncidentType
from fireline.domain.severity import Severity
from fireline.domain.telemetry import Change, ChangeKind
from fireline.runtime import Fireline
from fireline.settings import Settings
from fireline.tokens import issue_token
from tests.conftest import T0
from tests.servers import serving

MINUTE = timedelta(minutes=1)


def add_incident(app: Fireline, *, fingerprint: str = "fp-1", days: int = 0) -> int:
    at = T0 + timedelta(days=days)
    with app.state.unit_of_work() as tx:
        found = tx.add_incident(
            replace(
                Incident.detected(
                    feature="bot",
                    type=IncidentType.SAFETY,
                    severity=Severity.P1,
                    title="prompt leak",
                    at=at,
                ),
                fingerprint=fingerprint,
                acknowledged_at=at + 5 * MINUTE,
            ),
            now=at,
        )
        assert found.incident_id is not None
        tx.add_alert(
            Alert(
                detector="pii",
                feature="bot",
                signal="pii_rate",
                incident_type=IncidentType.SAFETY,
                fired_at=at - MINUTE,
                window_start=at - 30 * MINUTE,
                window_end=at - MINUTE,
                baseline_value=0.0,
                current_value=0.2,
                p_value=0.001,
                evidence={"onset": (at - 12 * MINUTE).isoformat()},
                incident_id=found.incident_id,
            )
        )
        tx.add_changes(
            [
                Change(
                    change_id=f"prompt-{uuid.uuid4().hex[:6]}",
                    time=at - 40 * MINUTE,
                    kind=ChangeKind.PROMPT,
                    version="v7",
                    feature="bot",
                    previous_version="v6",
                )
            ]
        )
    return found.incident_id


@pytest.fixture
def deployment(state_url: str, tmp_path: Path) -> Iterator[tuple[Fireline, SimulatedClock]]:
    clock = SimulatedClock(T0)
    app = Fireline(Settings(data_dir=tmp_path / "data", state_url=state_url), clock=clock)
    yield app, clock
    app.close()


@pytest.fixture
def url(deployment: tuple[Fireline, SimulatedClock]) -> Iterator[str]:
    with serving(create_app(deployment[0])) as base:
        yield base


def client(app: Fireline, url: str, role: Role) -> httpx.Client:
    token = issue_token(app.state, f"{role.value}-{uuid.uuid4().hex[:6]}", role, now=T0)
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"})


def test_metrics_per_quarter_count_incidents_and_recurrences_and_plot_a_trend(
    deployment: tuple[Fireline, SimulatedClock], url: str
) -> None:
    app, clock = deployment
    first = add_incident(app)
    add_incident(app, days=30)
    clock.advance(3_600)
    app.resolve(first, actor="ana", reason="fixed")

    with client(app, url, Role.VIEWER) as viewer:
        answer = viewer.get("/api/metrics", params={"period": "quarter"})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert [b["bucket"] for b in body["buckets"]] == ["2026-Q1", "2026-Q2"]
        assert (body["total"]["incidents"], body["total"]["recurrences"]) == (2, 1)
        metrics = body["buckets"][0]["metrics"]
        assert metrics["mttd"] == {"count": 1, "median_s": 720.0, "mean_s": 720.0}
        assert metrics["mtta"]["median_s"] == 300.0
        assert metrics["mttr"]["median_s"] == 3_600.0
        assert body["total"]["by_severity"] == {"P1": 2}

        since = viewer.get("/api/metrics", params={"since": "2026-03-15T00:00:00Z"}).json()
        assert (since["total"]["incidents"], since["total"]["recurrences"]) == (1, 1)

        plot = viewer.get("/api/metrics/trend.svg", params={"metric": "mttr"})
        assert plot.status_code == 200
        assert plot.headers["content-type"].startswith("image/svg+xml")
        assert plot.text.startswith("<svg")

        for params in ({"period": "week"}, {"since": "yesterday"}, {"metric": "mttx"}):
            path = "/api/metrics/trend.svg" if "metric" in params else "/api/metrics"
            assert viewer.get(path, params=params).status_code == 422, params
        backwards = {"since": "2026-05-01T00:00:00Z", "until": "2026-04-01T00:00:00Z"}
        assert viewer.get("/api/metrics", params=backwards).status_code == 422

    assert httpx.get(f"{url}/api/metrics").status_code == 401
    with client(app, url, Role.APP) as app_token:
        assert app_token.get("/api/metrics").status_code == 403


def test_action_items_are_created_changed_and_listed_overdue_with_every_step_on_the_timeline(
    deployment: tuple[Fireline, SimulatedClock], url: str
) -> None:
    app, clock = deployment
    number = add_incident(app)
    due = (T0 + timedelta(days=7)).isoformat()
    item = {"title": "add a PII canary", "category": "detection", "owner": "bo", "due": due}

    with client(app, url, Role.RESPONDER) as responder, client(app, url, Role.VIEWER) as viewer:
        assert viewer.post(f"/api/incidents/{number}/actions", json=item).status_code == 403
        created = responder.post(f"/api/incidents/{number}/actions", json=item)
        assert created.status_code == 201, created.text
        action = created.json()
        assert (action["status"], action["owner"], action["overdue"]) == ("open", "bo", False)

        bad = [
            {**item, "category": "blame"},
            {**item, "title": ""},
            {**item, "title": "x" * 201},
            {**item, "due": "next week"},
            {**item, "surprise": 1},
        ]
        for body in bad:
            answer = responder.post(f"/api/incidents/{number}/actions", json=body)
            assert answer.status_code == 422, body
        assert responder.post("/api/incidents/999/actions", json=item).status_code == 404

        clock.advance(8 * 86_400)
        overdue = viewer.get("/api/actions", params={"overdue": "true"}).json()
        assert [a["id"] for a in overdue] == [action["id"]]
        assert overdue[0]["overdue"] is True

        path = f"/api/actions/{action['id']}"
        assert viewer.patch(path, json={"status": "done"}).status_code == 403
        assert responder.patch(path, json={"status": "finished"}).status_code == 422
        assert responder.patch(path, json={}).status_code == 422
        assert responder.patch("/api/actions/999", json={"status": "done"}).status_code == 404
        changed = responder.patch(path, json={"status": "done", "note": "canary live"})
        assert changed.status_code == 200, changed.text
        assert (changed.json()["status"], changed.json()["overdue"]) == ("done", False)

        assert viewer.get("/api/actions", params={"overdue": "true"}).json() == []
        listed = viewer.get(f"/api/incidents/{number}/actions").json()
        assert [a["note"] for a in listed] == ["canary live"]
        assert viewer.get("/api/incidents/999/actions").status_code == 404
        kinds = [e["kind"] for e in viewer.get(f"/api/incidents/{number}").json()["timeline"]]
        assert kinds.count("action_item_added") == 1
        assert kinds.count("action_item_updated") == 1


def test_a_resolved_incident_gets_a_review_draft_that_only_a_commander_can_accept(
    deployment: tuple[Fireline, SimulatedClock], url: str
) -> None:
    app, clock = deployment
    number = add_incident(app)
    path = f"/api/incidents/{number}/review"

    with (
        client(app, url, Role.VIEWER) as viewer,
        client(app, url, Role.RESPONDER) as responder,
        client(app, url, Role.COMMANDER) as commander,
    ):
        assert viewer.get(path).status_code == 409  # still open
        assert viewer.get("/api/incidents/999/review").status_code == 404
        clock.advance(2 * 3_600)
        app.resolve(number, actor="ana", reason="prompt rolled back")

        draft = viewer.get(path)
        assert draft.status_code == 200, draft.text
        assert draft.headers["content-type"].startswith("text/markdown")
        assert "## AI-specific questions" in draft.text
        assert "prompt v7 (was v6)" in draft.text  # the suspected change
        assert "MTTD (onset to detection): 12m" in draft.text
        assert "not computed" in draft.text
        page = viewer.get(path, params={"format": "html"})
        assert page.headers["content-type"].startswith("text/html")
        assert "<h2>Timeline</h2>" in page.text
        assert viewer.get(path, params={"format": "pdf"}).status_code == 422

        accept = f"{path}/accept"
        assert responder.post(accept).status_code == 403
        assert commander.post("/api/incidents/999/review/accept").status_code == 404
        accepted = commander.post(accept, json={"note": "good review"})
        assert accepted.status_code == 204, accepted.text
        assert commander.post(accept).status_code == 409  # already reviewed

        detail = viewer.get(f"/api/incidents/{number}").json()
        assert detail["state"] == "reviewed"
        entry = next(e for e in detail["timeline"] if e["kind"] == "review_accepted")
        assert entry["actor"].startswith("token:commander-")
    with app.state.unit_of_work() as tx:
        assert tx.get_incident(number).time_of(IncidentState.REVIEWED) == clock.now()


def test_the_command_line_manages_action_items_metrics_and_the_review(tmp_path: Path) -> None:
    data = tmp_path / "data"
    app = Fireline(Settings(data_dir=data))
    number = add_incident(app)
    app.resolve(number, actor="ana", reason="fixed")
    app.close()
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(cli, ["--data-dir", str(data), *args])
        assert result.exit_code == 0, (args, result.output, result.exception)
        return result.output

    added = run(
        "action", "add", str(number), "--title", "canary", "--owner", "bo",
        "--due", "2026-03-09T00:00:00", "--category", "detection",
    )  # fmt: skip
    assert "action item 1 added" in added
    assert "overdue" in run("action", "list", "--overdue")
    assert '"status": "in_progress"' not in run("action", "list", "--json")
    run("action", "update", "1", "--status", "in_progress", "--owner", "cy")
    assert '"owner": "cy"' in run("action", "list", "--incident", str(number), "--json")
    run("action", "done", "1")
    assert run("action", "list", "--overdue", "--json").strip() == "[]"

    plot = tmp_path / "mttr.svg"
    table = run("metrics", "--period", "quarter", "--plot", str(plot))
    assert "2026-Q1" in table
    assert plot.read_text().startswith("<svg")
    assert '"period": "month"' in run("metrics", "--json")

    out = tmp_path / "review.html"
    run("review-draft", str(number), "--html", "--out", str(out))
    assert "canary" in out.read_text()
    assert "# Post-incident review (draft)" in run("review-draft", str(number))
    assert "reviewed" in run("review-accept", str(number))

    bad = runner.invoke(cli, ["--data-dir", str(data), "action", "add", str(number),
                              "--title", "x", "--category", "blame"])  # fmt: skip
    assert bad.exit_code == 2
    again = runner.invoke(cli, ["--data-dir", str(data), "review-accept", str(number)])
    assert again.exit_code != 0
