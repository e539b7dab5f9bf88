"""The containment decision policy: the field's decision tree as data, and the strategy choice."""

import doctest
import re
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

import fireline.contain.config
import fireline.contain.policy
from fireline.contain.config import Containment
from fireline.contain.policy import ContainmentPolicy, Facts, decide
from fireline.domain.guard import ContainmentLevel
from fireline.domain.incident import IncidentType
from fireline.domain.severity import Severity
from fireline.triage.policy import FeatureProfile

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "containment.md"
DEFAULT = ContainmentPolicy()
INTERNAL = FeatureProfile(user_facing=False)
CRITICAL = FeatureProfile(criticality="critical", user_facing=True)


def facts(type_: str = "quality", severity: str = "P2", **kwargs: object) -> Facts:
    return Facts(IncidentType(type_), Severity(severity), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("type_", "profile", "level"),
    [
        ("safety", FeatureProfile(), 5),
        ("safety", INTERNAL, 5),
        ("reputation", FeatureProfile(), 4),
        ("quality", FeatureProfile(), 3),
        ("quality", INTERNAL, 2),
        ("economic", FeatureProfile(), 1),
    ],
)
def test_the_default_policy_follows_the_fields_decision_tree(type_, profile, level):
    assert decide(facts(type_, profile=profile), DEFAULT).level == level


def test_a_severe_outage_disables_the_feature_as_before_this_policy():
    assert decide(facts("availability", "P1"), DEFAULT).level is ContainmentLevel.FEATURE_DISABLED
    assert decide(facts("availability", "P2"), DEFAULT).level is ContainmentLevel.WARN


@pytest.mark.parametrize("signal", ["latency", "latency_p99", "time_to_first_token"])
def test_a_slow_feature_falls_back_rather_than_switching_off(signal):
    decision = decide(facts("availability", "P0", signal=signal), DEFAULT)

    assert decision.level is ContainmentLevel.FALLBACK
    assert decision.level_rule == "slow, not failing"


def test_a_signal_condition_matches_names_and_prefixes():
    policy = ContainmentPolicy.model_validate(
        {
            "levels": [
                {"name": "any scanner", "when": {"signal": ["scan."]}, "level": 4},
                {"name": "evals", "when": {"signal": ["eval.*"]}, "level": 3},
                {"name": "rest", "level": 1},
            ]
        }
    )

    assert decide(facts(signal="scan.pii"), policy).level == 4
    assert decide(facts(signal="eval.quality"), policy).level == 3
    assert decide(facts(signal="scanner_rate"), policy).level == 1
    assert decide(facts(), policy).level == 1  # no signal known


def test_a_full_shutdown_waits_for_the_commander_while_the_feature_kill_switch_acts_at_once():
    decision = decide(facts("safety", "P0"), DEFAULT)

    assert decision.level is ContainmentLevel.FULL_SHUTDOWN
    assert not decision.automatic
    assert decision.needs_approval_by == "commander"
    assert decision.automatic_level is ContainmentLevel.FEATURE_DISABLED


def test_lower_levels_act_without_a_person():
    decision = decide(facts("quality", profile=INTERNAL), DEFAULT)

    assert decision.automatic
    assert decision.automatic_level is ContainmentLevel.HUMAN_REVIEW
    assert decision.needs_approval_by is None


def test_a_change_that_explains_the_incident_is_rolled_back_when_a_known_good_version_exists():
    explained = facts(explained_by_change=True, known_good_available=True)
    no_known_good = facts(explained_by_change=True, known_good_available=False)

    assert decide(explained, DEFAULT).strategy == "rollback"
    assert decide(no_known_good, DEFAULT).strategy == "monitor"


def test_a_safety_critical_user_facing_feature_gets_the_kill_switch_even_if_a_change_explains_it():
    decision = decide(
        facts(profile=CRITICAL, explained_by_change=True, known_good_available=True), DEFAULT
    )

    assert decision.strategy == "kill_switch"
    assert decision.strategy_rule == "safety-critical domain with user risk"


def test_harm_confined_to_an_input_pattern_is_forward_fixed_by_a_person():
    decision = decide(facts(confined_to_input_pattern=True), DEFAULT)

    assert decision.strategy == "forward_fix"
    assert not decision.automatic
    # The guard level itself still acts at once.
    assert decision.automatic_level is ContainmentLevel.FALLBACK


def test_a_disabled_feature_without_a_better_way_out_uses_the_kill_switch_and_probes():
    decision = decide(facts("reputation"), DEFAULT)

    assert decision.strategy == "kill_switch"
    assert decision.probe_share == DEFAULT.probe_share > 0


def test_features_still_serving_are_not_asked_to_probe():
    assert decide(facts("quality"), DEFAULT).probe_share == 0.0


def test_the_reason_names_the_rules_that_decided():
    decision = decide(facts("reputation"), DEFAULT)

    assert '"reputation damage active"' in decision.reason
    assert '"feature disabled"' in decision.reason


def test_the_first_matching_rule_wins():
    policy = Containment.model_validate(
        {
            "levels": [
                {"name": "any P0", "when": {"severity_at_least": "P0"}, "level": 4},
                {"name": "quality", "when": {"incident_type": ["quality"]}, "level": 2},
                {"name": "rest", "level": 1},
            ]
        }
    )

    assert decide(facts("quality", "P0"), policy).level_rule == "any P0"
    assert decide(facts("quality", "P1"), policy).level_rule == "quality"


@pytest.mark.parametrize(("severity", "matches"), [("P0", True), ("P1", True), ("P2", False)])
def test_severity_at_least_matches_that_severity_and_worse(severity, matches):
    policy = Containment.model_validate(
        {
            "levels": [
                {"name": "bad", "when": {"severity_at_least": "P1"}, "level": 3},
                {"name": "rest", "level": 1},
            ]
        }
    )

    assert (decide(facts(severity=severity), policy).level_rule == "bad") is matches


def test_conditions_on_nist_category_and_profile_must_all_hold():
    rule = {
        "name": "stored privacy leak",
        "when": {"nist": ["privacy"], "persistence": ["stored", "sent_externally"]},
        "level": 4,
    }
    policy = Containment.model_validate({"levels": [rule, {"name": "rest", "level": 1}]})
    stored = FeatureProfile(persistence="stored")

    assert decide(facts(nist="privacy", profile=stored), policy).level == 4
    assert decide(facts(nist="privacy"), policy).level == 1
    assert decide(facts(nist="security", profile=stored), policy).level == 1


def test_a_strategy_rule_can_ask_for_the_chosen_level():
    policy = Containment.model_validate(
        {
            "strategies": [
                {"name": "high", "when": {"level_at_least": 3}, "strategy": "kill_switch"},
                {"name": "rest", "strategy": "monitor"},
            ]
        }
    )

    assert decide(facts("quality"), policy).strategy == "kill_switch"
    assert decide(facts("quality", profile=INTERNAL), policy).strategy == "monitor"


@pytest.mark.parametrize(
    "section",
    [
        {"levels": [{"name": "only safety", "when": {"incident_type": ["safety"]}, "level": 5}]},
        {"strategies": [{"name": "x", "when": {"user_facing": True}, "strategy": "monitor"}]},
        {"levels": [{"name": "rest", "level": 6}]},
        {"levels": [{"name": "rest", "level": 3, "interim": 2}]},
        {"levels": [{"name": "rest", "level": 3, "automatic": False, "interim": 3}]},
        {"levels": [{"name": "rest", "level": 1, "when": {"colour": "red"}}]},
        {"strategies": [{"name": "rest", "strategy": "pray"}]},
        {"unknown": 1},
    ],
)
def test_a_policy_that_could_leave_an_incident_undecided_or_is_misspelt_is_refused(section):
    with pytest.raises(ValidationError):
        Containment.model_validate(section)


def test_every_yaml_example_of_the_guide_is_a_valid_containment_section():
    blocks = re.findall(r"```yaml\n(.*?)```", GUIDE.read_text(), flags=re.S)

    assert blocks
    for block in blocks:
        Containment.model_validate(yaml.safe_load(block)["containment"])


def test_the_guides_full_example_reproduces_the_default_decisions():
    block = re.findall(r"```yaml\n(.*?)```", GUIDE.read_text(), flags=re.S)[0]
    section = Containment.model_validate(yaml.safe_load(block)["containment"])

    assert section.levels == DEFAULT.levels
    assert section.strategies == DEFAULT.strategies


@pytest.mark.parametrize("module", [fireline.contain.policy, fireline.contain.config])
def test_the_examples_in_the_docstrings_hold(module):
    failed, attempted = doctest.testmod(module, verbose=False, report=False)

    assert attempted > 0
    assert failed == 0
