"""The configuration file: defaults, and errors that name the file and the line."""

from pathlib import Path

import pytest

from fireline.config import Config, find_config, load_config, parse_config
from fireline.errors import ConfigError


def test_no_file_or_an_empty_one_means_every_default():
    assert parse_config("") == Config()
    assert parse_config("# nothing here\n") == Config()
    assert Config().ingest.redaction.hash_user_ids is True
    assert Config().ingest.redaction.pii == "mask"


def test_prices_are_read_per_model():
    config = parse_config("ingest:\n  prices:\n    gpt-4o: {input: 2.5, output: 10}\n")
    assert config.ingest.prices["gpt-4o"].output == 10


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("ingest:\n  prices:\n    m: {input: 1, output: -1}\n", 3, "greater than or equal to 0"),
        ("ingest:\n  redaction:\n    pii: smudge\n", 3, "'mask', 'drop' or 'keep'"),
        (
            "ingest:\n  redaction:\n    hash_user_ids: true\n  bogus: 1\n",
            4,
            "unknown setting 'bogus'",
        ),
        ("alertmanager:\n  feature_label: [a]\n", 2, "feature_label"),
        ("ingest: [\n", 2, "not valid YAML"),
        ("- a list\n", 1, "mapping of sections"),
    ],
    ids=["negative price", "bad choice", "unknown key", "wrong type", "broken yaml", "not a map"],
)
def test_a_bad_file_is_refused_naming_file_line_and_problem(text, line, words):
    with pytest.raises(ConfigError) as raised:
        parse_config(text, source="deploy/fireline.yaml")
    assert raised.value.line == line
    assert str(raised.value).startswith(f"deploy/fireline.yaml:{line}: ")
    assert words in str(raised.value)


def test_the_file_in_the_data_directory_is_used_unless_one_is_named(tmp_path: Path):
    assert find_config(None, tmp_path) is None
    (tmp_path / "fireline.yaml").write_text("ingest: {}\n")
    assert find_config(None, tmp_path) == tmp_path / "fireline.yaml"
    named = tmp_path / "other.yaml"
    assert find_config(named, tmp_path) == named


def test_an_unreadable_file_is_named(tmp_path: Path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")


def test_detection_settings_overlay_the_deployment_with_the_feature():
    config = parse_config(
        "detection:\n"
        "  signals:\n"
        "    latency: {direction: both, false_alarms_per_30_days: 2}\n"
        "  features:\n"
        "    triage:\n"
        "      signals:\n"
        "        latency: {false_alarms_per_30_days: 0.5}\n"
    )

    triage = config.detection.settings_for("triage", "latency")
    other = config.detection.settings_for("chat", "latency")

    assert (triage.direction, triage.false_alarms_per_30_days) == ("both", 0.5)
    assert (other.direction, other.false_alarms_per_30_days) == ("both", 2)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("detection:\n  bucket_s: 5\n", 2, "bucket_s"),
        ("detection:\n  segments: [colour]\n", 2, "unknown segment 'colour'"),
        ("detection:\n  attributes: ['a b']\n", 2, "attributes"),
        ("detection:\n  signals:\n    lateness: {}\n", 2, "unknown signal 'lateness'"),
        (
            "detection:\n  signals:\n    latency: {detectors: [cusum_bernoulli]}\n",
            2,
            "watches rate signals, not mean ones",
        ),
        (
            "detection:\n  features:\n    a:\n      signals:\n        volume:\n"
            "          detectors: [nope]\n",
            4,
            "unknown detector 'nope'",
        ),
    ],
)
def test_a_bad_detection_section_is_refused_naming_the_line_and_problem(text, line, words):
    with pytest.raises(ConfigError) as raised:
        parse_config(text, source="fireline.yaml")

    assert raised.value.line == line
    assert words in str(raised.value)
