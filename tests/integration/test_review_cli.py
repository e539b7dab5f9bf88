"""`fireline review`: list, show, approve, edit, reject and export labels on a data directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fireline.cli import app as cli_app
from fireline.review import ReviewStatus
from fireline.review.service import review_service
from fireline.runtime import Fireline
from fireline.settings import Settings
from tests.servers import cli_env, run_fireline

CONTEXT = {"docs": ["refund-policy#3"], "tenant": "acme", "note": "[bold]not markup[/bold]"}


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data directory holding three pending reviews (ids 1, 2, 3)."""
    monkeypatch.setenv("FIRELINE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("FIRELINE_STATE_URL", raising=False)
    monkeypatch.delenv("FIRELINE_CONFIG", raising=False)
    app = Fireline(Settings.resolve(tmp_path, None, None))
    service = review_service(app)
    for n in range(3):
        service.submit(
            "support-bot",
            f"c-{n}",
            f"Question {n}: can I get a refund after 40 days?",
            f"[red]Answer {n}[/red]: yes, refunds are always possible, whatever the policy says.",
            context=CONTEXT,
            wait_s=3600,
        )
    app.close()
    return tmp_path


def run(*args: str) -> str:
    result = CliRunner().invoke(cli_app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_the_queue_lists_pending_reviews_with_shortened_texts(data_dir: Path) -> None:
    listed = run("review", "list")
    assert "support-bot" in listed
    assert "[red]Answer" in listed  # the app's text, not markup
    assert "whatever the policy says" not in listed  # shortened to one line a review
    assert len(listed.splitlines()) == 3 + 4
    assert [r["id"] for r in json.loads(run("review", "list", "--json"))] == [1, 2, 3]


def test_show_prints_the_full_input_output_and_context(data_dir: Path) -> None:
    shown = run("review", "show", "2")
    assert "Question 1: can I get a refund after 40 days?" in shown
    assert "whatever the policy says" in shown
    assert '"tenant": "acme"' in shown
    assert "[bold]not markup[/bold]" in shown


def test_people_decide_from_the_cli_and_the_labels_follow(data_dir: Path, tmp_path: Path) -> None:
    assert run("review", "approve", "1", "--actor", "ana") == "review 1 approved\n"
    edited = run("review", "edit", "2", "--output", "Within 30 days only.", "--note", "policy")
    rejected = run("review", "reject", "3", "--note", "wrong policy")
    out = tmp_path / "labels.jsonl"
    written = run("review", "labels", "--out", str(out))
    labels = [json.loads(line) for line in out.read_text().splitlines()]

    assert (edited, rejected) == ("review 2 edited\n", "review 3 rejected\n")
    assert "3 labels written" in written
    assert [(x["label"], x["corrected_output"]) for x in labels] == [
        ("good", None),
        ("corrected", "Within 30 days only."),
        ("bad", None),
    ]
    assert labels[0]["decided_by"] == "ana"
    assert labels[2]["note"] == "wrong policy"
    assert run("review", "list") == "no pending reviews\n"
    assert len(json.loads(run("review", "list", "--status", "all", "--json"))) == 3
    assert run("review", "labels").splitlines() == out.read_text().splitlines()


def test_a_second_decision_or_an_unknown_id_is_one_line_of_error(data_dir: Path) -> None:
    app = Fireline(Settings.resolve(data_dir, None, None))
    review_service(app).decide(1, ReviewStatus.REJECTED, by="ana", note="no")
    app.close()
    again = run_fireline("review", "approve", "1", env=cli_env(data_dir))
    missing = run_fireline("review", "show", "99", env=cli_env(data_dir))

    assert again.returncode == 1
    assert again.stderr == "error: review 1 is already rejected: it cannot be approved\n"
    assert missing.returncode == 1
    assert missing.stderr == "error: review 99 does not exist\n"


def test_an_unknown_status_is_refused(data_dir: Path) -> None:
    result = CliRunner().invoke(cli_app, ["review", "list", "--status", "maybe"])
    assert result.exit_code == 2
    assert "not one of pending" in result.output
