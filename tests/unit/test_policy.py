"""The default response policy: severity from evidence, and containment from severity."""

import pytest

from fireline.domain.guard import ContainmentLevel, Guard
from fireline.domain.incident import IncidentType
from fireline.domain.policy import availability_severity, classify, containment_for
from fireline.domain.severity import Severity

OTHER_TYPES = [t for t in IncidentType if t is not IncidentType.AVAILABILITY]


@pytest.mark.parametrize(
    ("failing_share", "severity"),
    [
        (1.0, Severity.P0),
        (0.9, Severity.P0),
        (0.8999, Severity.P1),
        (0.25, Severity.P1),
        (0.2499, Severity.P2),
        (0.05, Severity.P2),
        (0.0499, Severity.P3),
        (0.0, Severity.P3),
    ],
)
def test_availability_severity_follows_the_share_of_requests_failing(failing_share, severity):
    assert availability_severity(failing_share)[0] is severity


def test_a_failing_share_computed_from_counts_lands_on_the_right_side_of_a_boundary():
    # 9 of 10, 1 of 4 and 1 of 20 are exactly the boundaries and count as the worse severity.
    assert availability_severity(9 / 10)[0] is Severity.P0
    assert availability_severity(1 / 4)[0] is Severity.P1
    assert availability_severity(1 / 20)[0] is Severity.P2


def test_availability_severity_explains_itself_with_the_share_failing():
    severity, reason = availability_severity(0.3)

    assert "30.0%" in reason
    assert str(severity) in reason


def test_availability_severity_gets_no_better_as_more_requests_fail():
    shares = [i / 1000 for i in range(1001)]
    ranks = [availability_severity(share)[0].rank for share in shares]

    assert ranks == sorted(ranks, reverse=True)


def test_classify_uses_the_availability_rule_for_availability_incidents():
    for share in (0.0, 0.05, 0.3, 0.95):
        assert classify(IncidentType.AVAILABILITY, share) == availability_severity(share)


@pytest.mark.parametrize("incident_type", OTHER_TYPES, ids=str)
@pytest.mark.parametrize("current_value", [0.0, 0.5, 1.0, 1000.0])
def test_incidents_without_a_severity_rule_are_p3_until_triaged(incident_type, current_value):
    severity, reason = classify(incident_type, current_value)

    assert severity is Severity.P3
    assert str(incident_type) in reason


@pytest.mark.parametrize("severity", [Severity.P0, Severity.P1], ids=str)
def test_a_severe_availability_incident_disables_the_feature_automatically(severity):
    decision = containment_for(IncidentType.AVAILABILITY, severity)

    assert decision is not None
    assert decision.level is ContainmentLevel.FEATURE_DISABLED
    assert int(decision.level) == 4
    assert decision.automatic
    assert 0 < decision.probe_share < 1
    assert str(severity) in decision.reason


def test_the_containment_decided_for_a_severe_outage_switches_the_feature_off():
    decision = containment_for(IncidentType.AVAILABILITY, Severity.P0)
    assert decision is not None

    guard = Guard(feature="support-bot", level=decision.level, probe_share=decision.probe_share)

    assert not guard.enabled


@pytest.mark.parametrize("severity", [Severity.P2, Severity.P3], ids=str)
def test_a_minor_availability_incident_is_only_monitored(severity):
    assert containment_for(IncidentType.AVAILABILITY, severity) is None


@pytest.mark.parametrize("incident_type", OTHER_TYPES, ids=str)
@pytest.mark.parametrize("severity", list(Severity), ids=str)
def test_the_default_policy_contains_nothing_but_availability_incidents(incident_type, severity):
    assert containment_for(incident_type, severity) is None


@pytest.mark.parametrize("level", list(ContainmentLevel), ids=lambda level: level.slug)
def test_a_guard_is_enabled_only_below_the_kill_switch(level):
    guard = Guard(feature="support-bot", level=level)

    assert guard.enabled is (level < 4)


def test_a_normal_guard_is_enabled_at_level_none():
    guard = Guard.normal("support-bot")

    assert guard.level is ContainmentLevel.NONE
    assert guard.enabled
