"""The drill scenario format: the bundled files load, and mistakes name file, line, problem."""

import re
from pathlib import Path

import pytest

from fireline.drill.spec import ScenarioError, bundled_scenarios, load_scenario, parse_scenario
from fireline.drill.spec_yaml import parse_duration

GOOD = """\
name: small
duration: 2h
features:
  - name: bot
    rate: 3
    segments:
      tenant: {acme: 0.6, globex: 0.4}
faults:
  - kind: latency
    feature: bot
    onset: 30m
    duration: 45m
    where: {tenant: acme}
    factor: 3
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    return path


def error_of(tmp_path: Path, old: str, new: str) -> ScenarioError:
    path = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert caught.value.source == str(path)
    return caught.value


def test_every_bundled_scenario_loads() -> None:
    names = bundled_scenarios()

    assert set(names) >= {
        "provider-outage",
        "quality-regression-after-prompt-change",
        "pii-leak-across-tenants",
    }
    for name in names:
        assert load_scenario(name).name == name


def test_a_valid_file_loads_with_durations_in_seconds(tmp_path: Path) -> None:
    spec = load_scenario(write(tmp_path, GOOD))

    assert spec.duration == 7200
    assert spec.faults[0].onset == 1800
    assert spec.features[0].segments["tenant"] == {"acme": 0.6, "globex": 0.4}


def test_an_unknown_field_is_named_with_its_line(tmp_path: Path) -> None:
    error = error_of(tmp_path, "    factor: 3", "    factor: 3\n    colour: red")

    assert error.line == 15
    assert "unknown field 'colour'" in str(error)
    assert str(error).startswith(f"{error.source}:15:")


def test_shares_that_do_not_sum_to_one_are_reported_at_their_dimension(tmp_path: Path) -> None:
    error = error_of(tmp_path, "globex: 0.4", "globex: 0.5")

    assert error.line == 7
    assert "sum to 1" in error.message


def test_an_unknown_fault_kind_is_reported_at_the_fault(tmp_path: Path) -> None:
    error = error_of(tmp_path, "kind: latency", "kind: gremlins")

    assert error.line == 9
    assert "gremlins" in error.message


def test_a_bad_duration_is_reported_at_its_line(tmp_path: Path) -> None:
    error = error_of(tmp_path, "duration: 45m", "duration: 45 minutes")

    assert error.line == 12
    assert "not a duration" in error.message


def test_a_fault_on_an_unknown_feature_is_reported_at_its_feature_key(tmp_path: Path) -> None:
    error = error_of(tmp_path, "    feature: bot", "    feature: chatbot")

    assert error.line == 10
    assert "unknown feature 'chatbot'" in error.message


def test_a_segment_filter_on_a_value_never_drawn_is_an_error(tmp_path: Path) -> None:
    error = error_of(tmp_path, "where: {tenant: acme}", "where: {tenant: initech}")

    assert error.line == 13
    assert "initech" in error.message


def test_a_missing_field_names_the_mapping_that_lacks_it(tmp_path: Path) -> None:
    error = error_of(tmp_path, "    rate: 3\n", "")

    assert error.line == 4
    assert "missing field 'rate'" in error.message


def test_broken_yaml_is_reported_with_its_line() -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario("name: x\nfeatures: [\n", source="broken.yaml")

    assert caught.value.source == "broken.yaml"
    assert caught.value.line is not None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("45m", 2700), ("2h", 7200), ("14d", 1_209_600), ("1h30m", 5400), (90, 90)],
)
def test_durations_read_as_seconds(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_the_worked_example_of_the_guide_is_a_valid_scenario() -> None:
    guide = Path(__file__).resolve().parents[2] / "docs" / "scenarios.md"
    blocks = re.findall(r"```yaml\n(.*?)```", guide.read_text(), flags=re.S)

    assert blocks
    for block in blocks:
        parse_scenario(block, source="docs/scenarios.md")
