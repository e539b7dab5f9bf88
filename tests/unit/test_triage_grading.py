"""Triage grades severity by points for user impact and the AI factors."""

from fireline.domain.incident import IncidentType
from fireline.domain.severity import Severity
from fireline.triage.grading import Facts, fingerprint, grade, impact, nist_category
from fireline.triage.policy import FeatureProfile, Floor, Thresholds, Triage

QUALITY = {"incident_type": IncidentType.QUALITY, "signal": "eval.accuracy"}


def accuracy_drop(feature: str) -> Facts:
    return Facts(feature, current=0.72, baseline=0.80, **QUALITY)  # a 10 % drop


def test_the_same_accuracy_drop_is_p0_for_a_medical_feature_and_p3_for_music() -> None:
    policy = Triage(
        features={
            "diagnosis": FeatureProfile(criticality="critical"),
            "music-recs": FeatureProfile(criticality="low"),
        }
    )

    assert grade(accuracy_drop("diagnosis"), policy).severity is Severity.P0
    assert grade(accuracy_drop("music-recs"), policy).severity is Severity.P3


def test_an_outage_is_graded_by_the_share_of_requests_failing() -> None:
    def outage(share: float) -> Severity:
        facts = Facts("bot", IncidentType.AVAILABILITY, "error_rate", current=share, baseline=0.01)
        return grade(facts, Triage()).severity

    assert [outage(s) for s in (0.95, 0.6, 0.1, 0.02)] == [
        Severity.P0,
        Severity.P1,
        Severity.P2,
        Severity.P3,
    ]


def test_outputs_sent_on_and_irreversible_harm_each_raise_the_grade() -> None:
    facts = accuracy_drop("summaries")
    plain = grade(facts, Triage())
    stored = grade(
        facts,
        Triage(features={"summaries": FeatureProfile(persistence="sent_externally")}),
    )
    irreversible = grade(
        facts, Triage(features={"summaries": FeatureProfile(reversibility="irreversible")})
    )

    assert stored.points == plain.points + 2
    assert irreversible.points == plain.points + 2
    assert any("sent externally" in reason for reason in stored.reasons)


def test_a_worsening_signal_adds_the_amplification_points() -> None:
    calm = Facts("bot", current=0.72, baseline=0.80, **QUALITY)
    worsening = Facts("bot", current=0.72, baseline=0.80, worsening=True, **QUALITY)

    assert grade(worsening, Triage()).points == grade(calm, Triage()).points + 1


def test_a_privacy_leak_is_never_below_its_floor_whatever_the_points() -> None:
    leak = Facts("bot", IncidentType.SAFETY, "scan.pii", current=0.002, baseline=0.0)
    graded = grade(leak, Triage(default_profile=FeatureProfile(criticality="low")))

    assert graded.nist == "privacy"
    assert graded.severity is Severity.P1
    assert any("at least P1" in reason for reason in graded.reasons)


def test_floors_and_thresholds_come_from_the_policy() -> None:
    policy = Triage(
        thresholds=Thresholds(P0=20, P1=19, P2=18),
        floors=(Floor(severity=Severity.P2, incident_type="quality", reason="quality matters"),),
    )

    assert grade(accuracy_drop("x"), policy).severity is Severity.P2


def test_a_segment_of_a_protected_attribute_makes_a_fairness_incident() -> None:
    policy = Triage(protected_segments=("age_group",))

    found = nist_category(IncidentType.QUALITY, "eval.accuracy", {"age_group": "65+"}, policy)

    assert found == "fairness"
    assert nist_category(IncidentType.QUALITY, "eval.accuracy", {}, policy) == "reliability"
    assert nist_category(IncidentType.SAFETY, "scan.injection", {}, policy) == "security"


def test_impact_is_the_excess_rate_the_failing_share_or_the_relative_change() -> None:
    assert round(impact("refusal_rate", 0.12, 0.02), 3) == 0.1
    assert impact("error_rate", 0.3, 0.01) == 0.3
    assert round(impact("eval.quality", 0.6, 0.8), 3) == 0.25


def test_slower_answers_count_as_a_degradation_not_as_every_request_failing() -> None:
    assert round(impact("latency", 1_200, 1_000), 3) == 0.02
    assert round(impact("latency", 3_000, 1_000), 3) == 0.2
    assert impact("time_to_first_token", 50_000, 1_000) == 0.25  # at most


def test_dearer_calls_harm_the_budget_rather_than_the_requests() -> None:
    assert round(impact("cost_per_call", 2_000, 1_000), 3) == 0.02
    assert impact("input_tokens", 8_000, 1_000) == 0.04  # at most


def test_recurrences_share_a_fingerprint_whatever_the_segment_value() -> None:
    a = fingerprint("bot", IncidentType.QUALITY, "scan.pii", {"tenant": "acme"})
    b = fingerprint("bot", IncidentType.QUALITY, "scan.pii", {"tenant": "globex"})
    c = fingerprint("bot", IncidentType.QUALITY, "scan.pii", {})

    assert a == b
    assert a != c
