"""`fireline playbook`: list, show, attach, incident and tick on a data directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fireline.cli import app as cli_app
from fireline.domain.incident import Incident, IncidentType
from fireline.domain.severity import Severity
from fireline.runtime import Fireline
from fireline.settings import Settings
from tests.conftest import T0

OURS = """\
id: gpu-fire
title: GPU on fire
detection: {incident_types: [availability], signals: [gpu_temperature]}
containment: {level: 4, strategy: kill_switch}
steps:
  - {id: extinguish, title: Put the fire out, section: containment}
"""


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data directory holding one open economic incident (id 1), and a playbooks directory."""
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "gpu.yaml").write_text(OURS)
    (tmp_path / "fireline.yaml").write_text(f"playbooks: {{dir: {tmp_path / 'playbooks'}}}\n")
    monkeypatch.setenv("FIRELINE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("FIRELINE_STATE_URL", raising=False)
    monkeypatch.delenv("FIRELINE_CONFIG", raising=False)
    app = Fireline(Settings.resolve(tmp_path, None, None))
    with app.state.unit_of_work() as tx:
        tx.add_incident(
            Incident.detected(
                feature="agent",
                type=IncidentType.ECONOMIC,
                severity=Severity.P2,
                title="cost per call ×8",
                at=T0,
            ),
            now=T0,
        )
    app.close()
    return tmp_path


def run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli_app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def test_the_list_shows_built_in_and_configured_playbooks(data_dir: Path) -> None:
    listed = json.loads(run("playbook", "list", "--json"))
    origins = {p["id"]: p["origin"] for p in listed}
    assert origins["gpu-fire"] == str(data_dir / "playbooks" / "gpu.yaml")
    assert origins["cost-blowup"] == "builtin"
    assert len(origins) == 12
    assert "GPU on fire" in run("playbook", "list")


def test_show_prints_a_playbook_s_guidance_and_steps(data_dir: Path) -> None:
    shown = run("playbook", "show", "cost-blowup")
    assert "cost-blowup · Cost blowup" in shown
    assert "containment: level 1, forward fix" in shown
    assert "  cap-guidance: Cap spend first  [automatic: note]" in shown
    assert (
        json.loads(run("playbook", "show", "gpu-fire", "--json"))["steps"][0]["id"] == "extinguish"
    )


def test_a_playbook_is_attached_shown_and_ticked_from_the_cli(data_dir: Path) -> None:
    attached = run("playbook", "attach", "1")
    ticked = run("playbook", "tick", "1", "top-flows", "--actor", "ana")
    shown = json.loads(run("playbook", "incident", "1", "--json"))
    with_messages = run("playbook", "incident", "1", "--messages")

    assert "playbook cost-blowup (Cost blowup) · 3/10 steps done" in attached
    assert ticked == "incident 1: top-flows done (4/10 steps)\n"
    steps = {s["id"]: s for s in shown["steps"]}
    assert steps["top-flows"]["done_by"] == "ana"
    assert steps["cap-guidance"]["done_by"] == "playbook:cost-blowup"
    assert "--- customer ---" in with_messages
    assert "cost per call ×8" in with_messages


def test_mistakes_end_with_a_clear_error(data_dir: Path) -> None:
    assert "no playbook 'nope'" in str(
        CliRunner().invoke(cli_app, ["playbook", "show", "nope"]).exception
    )
    assert "has no playbook attached" in str(
        CliRunner().invoke(cli_app, ["playbook", "incident", "1"]).exception
    )
