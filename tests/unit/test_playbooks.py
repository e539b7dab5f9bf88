"""Playbooks as data: the built-in runbooks, loading a user's directory, and matching."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fireline.config import parse_config
from fireline.domain.incident import IncidentType
from fireline.errors import ConfigError, NotFound
from fireline.playbooks.library import builtin_playbooks, library, load_playbook, parse_playbook
from fireline.playbooks.model import Section

FIELD_RUNBOOKS = {
    "quality-regression",
    "harmful-output",
    "hallucinated-content",
    "cost-blowup",
    "latency",
    "provider-outage",
    "data-pipeline-failure",
    "capacity-exhaustion",
    "pii-leak",
    "prompt-injection",
    "biased-decisioning",
}

MINIMAL = """\
id: {id}
title: {title}
containment: {{level: 2, strategy: monitor}}
steps:
  - {{id: look, title: Look at it, section: investigation}}
"""


def test_the_eleven_field_runbooks_are_built_in() -> None:
    assert {p.id for p in builtin_playbooks()} == FIELD_RUNBOOKS


@pytest.mark.parametrize("playbook", builtin_playbooks(), ids=lambda p: p.id)
def test_every_built_in_playbook_covers_every_part_of_a_runbook(playbook) -> None:  # type: ignore[no-untyped-def]
    assert playbook.detection.incident_types
    assert playbook.detection.signals
    assert playbook.severity.guidance
    assert {s.section for s in playbook.steps} == set(Section)
    assert any(s.automatic for s in playbook.steps)
    assert set(playbook.templates) == {"internal", "status_page", "customer"}


@pytest.mark.parametrize(
    ("incident_type", "signal", "segment", "expected"),
    [
        (IncidentType.AVAILABILITY, "error_rate", {}, "provider-outage"),
        (
            IncidentType.AVAILABILITY,
            "error_rate.http_503",
            {"provider": "openai"},
            "provider-outage",
        ),
        (IncidentType.AVAILABILITY, "latency_p99", {}, "latency"),
        (
            IncidentType.AVAILABILITY,
            "error_rate.http_429",
            {"tenant": "acme"},
            "capacity-exhaustion",
        ),
        (IncidentType.ECONOMIC, "calls_per_session", {}, "cost-blowup"),
        (IncidentType.ECONOMIC, "cost_per_hour", {}, "cost-blowup"),
        (IncidentType.QUALITY, "refusal_rate", {"prompt_version": "v2"}, "quality-regression"),
        (IncidentType.QUALITY, "eval.helpfulness", {"model_version": "m2"}, "quality-regression"),
        (IncidentType.QUALITY, "eval.quality", {"gender": "female"}, "biased-decisioning"),
        (
            IncidentType.QUALITY,
            "scan.grounding",
            {"index_version": "idx-8"},
            "hallucinated-content",
        ),
        (IncidentType.QUALITY, "input_length", {}, "data-pipeline-failure"),
        (IncidentType.SAFETY, "scan.pii", {"tenant": "globex"}, "pii-leak"),
        (IncidentType.SAFETY, "scan.tenant_leak", {}, "pii-leak"),
        (IncidentType.SAFETY, "scan.injection", {}, "prompt-injection"),
        (IncidentType.SAFETY, "scan.prompt_leak", {}, "prompt-injection"),
        (IncidentType.REPUTATION, "scan.reputation", {}, "harmful-output"),
    ],
)
def test_matching_picks_the_runbook_of_the_incident(
    incident_type: IncidentType, signal: str, segment: dict[str, str], expected: str
) -> None:
    found = library().match(incident_type, [(signal, segment)])
    assert found is not None
    assert found.id == expected


def test_an_incident_with_no_telling_signal_gets_its_type_s_default_playbook() -> None:
    chosen = {t: library().match(t, [("alertmanager", {})]) for t in IncidentType}
    assert {t.value: p.id for t, p in chosen.items() if p} == {
        "availability": "provider-outage",
        "quality": "quality-regression",
        "safety": "harmful-output",
        "reputation": "harmful-output",
        "economic": "cost-blowup",
    }


def test_bias_applies_only_when_an_alert_is_on_a_protected_group() -> None:
    found = library().match(IncidentType.QUALITY, [("eval.quality", {"locale": "de"})])
    assert found is not None
    assert found.id == "quality-regression"


def test_a_user_playbook_replaces_the_built_in_with_its_id_and_adds_new_ones(
    tmp_path: Path,
) -> None:
    (tmp_path / "ours.yaml").write_text(MINIMAL.format(id="pii-leak", title="Our PII runbook"))
    (tmp_path / "extra.yml").write_text(MINIMAL.format(id="gpu-fire", title="GPU on fire"))
    (tmp_path / "notes.txt").write_text("not a playbook")
    found = library(tmp_path)
    assert found.get("pii-leak").title == "Our PII runbook"
    assert found.origins["pii-leak"] == str(tmp_path / "ours.yaml")
    assert found.origins["latency"] == "builtin"
    assert len(found.playbooks) == 12
    with pytest.raises(NotFound, match="no playbook 'nope'"):
        found.get("nope")


def test_two_user_files_with_one_id_are_refused(tmp_path: Path) -> None:
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_text(MINIMAL.format(id="same", title=name))
    with pytest.raises(ConfigError, match=r"b\.yaml:1: id 'same' is used by"):
        library(tmp_path)


def test_a_missing_playbooks_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        library(tmp_path / "missing")


@pytest.mark.parametrize(
    ("change", "line", "problem"),
    [
        ("  - {id: x, title: X, section: containment, automatic: reboot}", 6, "unknown action"),
        ("  - {id: x, title: X, section: later}", 6, "steps.1.section"),
        (
            "  - {id: x, title: X, section: remediation, automatic: propose_level,"
            " args: {level: 9}}",
            6,
            "steps.1.args.level",
        ),
        (
            "  - {id: x, title: X, section: communication, automatic: draft_message,"
            " args: {template: customer}}",
            6,
            "no 'customer' template",
        ),
        ("  - {id: look, title: Twice, section: remediation}", 6, "'look' is used twice"),
        ("templates:\n  internal: |\n    {{ incident.nmae }}", 7, "templates.internal"),
        ("templates:\n  internal: |\n    fine\n    {% if %}", 9, "templates.internal"),
        ("  - {id: x, title: X, section: containment, args: {a: 1}}", 6, "only for automatic"),
    ],
)
def test_a_bad_playbook_file_names_its_file_line_and_problem(
    tmp_path: Path, change: str, line: int, problem: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(MINIMAL.format(id="bad", title="Bad") + change + "\n")
    with pytest.raises(ConfigError) as raised:
        load_playbook(path)
    assert raised.value.source == str(path)
    assert raised.value.line == line
    assert problem in raised.value.message


def test_not_yaml_and_missing_fields_are_reported_with_their_line() -> None:
    with pytest.raises(ConfigError, match=r"^p.yaml:3: not valid YAML"):
        parse_playbook("id: x\ntitle: [unclosed\n", source="p.yaml")
    with pytest.raises(ConfigError, match=r"^p.yaml:1: missing field 'containment'"):
        parse_playbook("id: x\ntitle: X\nsteps: []\n", source="p.yaml")


def test_the_configuration_names_the_user_s_playbooks_directory() -> None:
    assert parse_config("playbooks: {dir: ops/playbooks}").playbooks.dir == Path("ops/playbooks")
    assert parse_config("").playbooks.dir is None
    with pytest.raises(ConfigError, match=r"<config>:2: playbooks.folder: unknown setting"):
        parse_config("playbooks:\n  folder: x\n")


def test_the_guide_s_examples_are_a_valid_playbook_and_valid_configuration() -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "playbooks.md").read_text()
    playbook_example, config_example = re.findall(r"```yaml\n(.*?)```", guide, flags=re.S)
    source = "ops/playbooks/gpu-overheat.yaml"
    reboot = playbook_example.replace("automatic: propose_level", "automatic: reboot")
    assert parse_playbook(playbook_example, source=source).id == "gpu-overheat"
    assert parse_config(config_example).playbooks.dir == Path("ops/playbooks")
    with pytest.raises(ConfigError) as raised:
        parse_playbook(reboot, source=source)
    assert f"error: {raised.value}" in guide
