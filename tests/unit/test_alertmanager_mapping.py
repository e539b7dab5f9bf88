"""Alertmanager webhook payloads mapped to fireline alerts and recoveries, without any I/O."""

from __future__ import annotations

import doctest
from datetime import UTC, datetime
from typing import Any

import pytest

import fireline.ingest.alertmanager as alertmanager
from fireline.domain.alert import Alert, Recovery
from fireline.domain.incident import IncidentType
from fireline.domain.severity import Severity
from fireline.errors import InvalidInput
from fireline.ingest.alertmanager import (
    detector_name,
    label_fingerprint,
    map_webhook,
    severity_for,
)

STARTS = "2026-03-02T08:52:26.739266876+02:00"  # Go's RFC 3339 with nanoseconds
STARTS_UTC = datetime(2026, 3, 2, 6, 52, 26, 739266, tzinfo=UTC)
ENDS = "2026-03-02T07:10:00Z"
ZERO = "0001-01-01T00:00:00Z"  # Go's zero time: what Alertmanager sends for an unset endsAt


def an_alert(status: str = "firing", **labels: str) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": "LLMErrorRate", "feature": "support-bot", **labels},
        "annotations": {"summary": "LLM provider errors above 20%"},
        "startsAt": STARTS,
        "endsAt": ENDS if status == "resolved" else ZERO,
        "generatorURL": "http://prometheus:9090/graph?g0.expr=llm_errors",
        "fingerprint": "1a30ba71cca2921f",
    }


def a_webhook(*alerts: dict[str, Any], **fields: Any) -> dict[str, Any]:
    alerts = alerts or (an_alert(),)
    return {
        "version": "4",
        "groupKey": '{}:{alertname="LLMErrorRate"}',
        "truncatedAlerts": 0,
        "status": "resolved" if all(a["status"] == "resolved" for a in alerts) else "firing",
        "receiver": "fireline",
        "groupLabels": {"alertname": "LLMErrorRate"},
        "commonLabels": {"alertname": "LLMErrorRate"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(alerts),
        **fields,
    }


def mapped(payload: dict[str, Any], feature_label: str = "feature") -> list[Alert | Recovery]:
    return map_webhook(payload, feature_label=feature_label).events


def the_alert(payload: dict[str, Any], feature_label: str = "feature") -> Alert:
    [event] = mapped(payload, feature_label)
    assert isinstance(event, Alert)
    return event


def rejection(payload: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as raised:
        map_webhook(payload, feature_label="feature")
    return raised.value


def test_a_firing_alert_becomes_an_alert_for_the_feature_its_label_names() -> None:
    alert = the_alert(a_webhook())

    assert alert.detector == "alertmanager:LLMErrorRate:1a30ba71cca2921f"
    assert alert.feature == "support-bot"
    assert alert.signal == "LLMErrorRate"
    assert alert.incident_type is IncidentType.AVAILABILITY
    assert alert.severity is Severity.P2  # no severity label
    assert alert.fired_at == alert.window_start == alert.window_end == STARTS_UTC
    assert alert.fired_at.utcoffset() is not None
    assert (alert.baseline_value, alert.current_value, alert.p_value) == (0.0, 0.0, 0.0)


def test_a_firing_alert_carries_alertmanagers_context_as_evidence() -> None:
    evidence = the_alert(a_webhook()).evidence

    assert evidence["labels"] == {"alertname": "LLMErrorRate", "feature": "support-bot"}
    assert evidence["annotations"] == {"summary": "LLM provider errors above 20%"}
    assert evidence["generatorURL"] == "http://prometheus:9090/graph?g0.expr=llm_errors"
    assert evidence["fingerprint"] == "1a30ba71cca2921f"
    assert evidence["externalURL"] == "http://alertmanager:9093"
    assert evidence["receiver"] == "fireline"
    assert evidence["source"] == "alertmanager"
    assert evidence["severity_rule"] == "no severity label: P2"


def test_a_resolved_alert_becomes_a_recovery_of_the_same_detector_at_its_end() -> None:
    firing = the_alert(a_webhook())
    [recovery] = mapped(a_webhook(an_alert("resolved")))

    assert isinstance(recovery, Recovery)
    assert recovery.detector == firing.detector
    assert recovery.feature == "support-bot"
    assert recovery.at == datetime(2026, 3, 2, 7, 10, tzinfo=UTC)
    assert recovery.evidence["fingerprint"] == "1a30ba71cca2921f"


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("critical", Severity.P1),
        ("CRITICAL", Severity.P1),
        ("error", Severity.P2),
        ("high", Severity.P2),
        ("warning", Severity.P2),
        ("info", Severity.P3),
        ("low", Severity.P3),
        ("none", Severity.P3),
        ("P0", Severity.P0),
        ("p1", Severity.P1),
        ("P2", Severity.P2),
        ("P3", Severity.P3),
        ("page-someone", Severity.P2),
        ("", Severity.P2),
    ],
)
def test_the_severity_label_grades_the_alert_by_the_documented_table(
    label: str, expected: Severity
) -> None:
    assert the_alert(a_webhook(an_alert(severity=label))).severity is expected


def test_the_severity_rule_applied_is_kept_for_the_record() -> None:
    assert severity_for({"severity": "critical"})[1] == "severity label 'critical' is P1"
    assert severity_for({"severity": "P0"})[1] == "severity label 'P0' taken as it is"
    assert severity_for({"severity": "sev1"})[1] == "unknown severity label 'sev1': P2"


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("quality", IncidentType.QUALITY),
        ("Safety", IncidentType.SAFETY),
        ("economic", IncidentType.ECONOMIC),
        ("reputation", IncidentType.REPUTATION),
        ("availability", IncidentType.AVAILABILITY),
        ("latency", IncidentType.AVAILABILITY),
    ],
)
def test_the_fireline_type_label_names_the_incident_type_else_availability(
    label: str, expected: IncidentType
) -> None:
    alert = the_alert(a_webhook(an_alert(fireline_type=label)))
    assert alert.incident_type is expected


def test_alerts_without_the_feature_label_are_skipped_with_the_reason() -> None:
    no_label = an_alert()
    del no_label["labels"]["feature"]
    empty = an_alert(feature="")
    invalid = an_alert(feature="support bot!")
    result = map_webhook(a_webhook(no_label, an_alert(), empty, invalid), feature_label="feature")

    assert result.received == 4
    assert [event.feature for event in result.events] == ["support-bot"]
    assert [s.index for s in result.skipped] == [0, 2, 3]
    assert result.skipped[0].reason == "no 'feature' label to name the fireline feature"
    assert result.skipped[0].alertname == "LLMErrorRate"
    assert result.skipped[0].fingerprint == "1a30ba71cca2921f"
    assert result.skipped[0].status == "firing"
    assert "no 'feature' label" in result.skipped[1].reason
    assert "'support bot!', not a feature name" in result.skipped[2].reason


def test_the_configured_feature_label_names_the_feature() -> None:
    payload = a_webhook(an_alert(service="checkout-assistant"))

    assert the_alert(payload, feature_label="service").feature == "checkout-assistant"
    result = map_webhook(a_webhook(an_alert()), feature_label="service")
    assert result.events == []
    assert result.skipped[0].reason == "no 'service' label to name the fireline feature"


def test_a_missing_fingerprint_is_derived_as_alertmanager_does_from_the_labels() -> None:
    # Prometheus' own test vector for its label signature (prometheus/common, signature_test.go).
    signature = label_fingerprint({"name": "garland, briggs", "fear": "love is not enough"})
    assert int(signature, 16) == 5799056148416392346
    assert label_fingerprint({}) == f"{14695981039346656037:016x}"

    alert = an_alert()
    del alert["fingerprint"]
    derived = label_fingerprint(alert["labels"])
    assert the_alert(a_webhook(alert)).detector == f"alertmanager:LLMErrorRate:{derived}"
    assert the_alert(a_webhook({**alert, "fingerprint": ""})).evidence["fingerprint"] == derived


def test_a_long_alertname_is_cut_so_the_detector_fits_the_store_and_keeps_the_fingerprint() -> None:
    alert = the_alert(a_webhook(an_alert(alertname="A" * 300)))

    assert len(alert.detector) == 128
    assert alert.detector.endswith(":1a30ba71cca2921f")
    assert alert.detector.startswith("alertmanager:AAA")
    assert len(alert.signal) == 128
    assert detector_name("X", "f" * 64) == f"alertmanager:X:{'f' * 64}"


def test_an_alert_without_an_alertname_is_called_unnamed() -> None:
    alert = an_alert()
    del alert["labels"]["alertname"]
    mapped_alert = the_alert(a_webhook(alert))

    assert mapped_alert.signal == "unnamed"
    assert mapped_alert.detector == "alertmanager:unnamed:1a30ba71cca2921f"


def test_fields_fireline_does_not_use_are_accepted() -> None:
    alert = {**an_alert(), "silenceURL": "http://grafana/silence", "values": {"B": 44.2}}
    payload = a_webhook(alert, orgId=1, notificationReason="repeat")

    assert the_alert(payload).feature == "support-bot"


def test_a_payload_with_no_alerts_maps_to_nothing_and_truncation_is_reported() -> None:
    result = map_webhook({**a_webhook(), "alerts": [], "truncatedAlerts": 7}, feature_label="f")

    assert (result.events, result.skipped, result.received) == ([], [], 0)
    assert result.truncated_alerts == 7


@pytest.mark.parametrize(
    ("payload", "row", "field", "message"),
    [
        ([an_alert()], None, None, "body must be a JSON object"),
        ({"receiver": "fireline"}, None, "alerts", "Field required"),
        ({"alerts": {"status": "firing"}}, None, "alerts", "valid list"),
        ({"alerts": [an_alert(), 42]}, 1, None, "valid dictionary"),
        ({"alerts": [an_alert(), {**an_alert(), "status": "pending"}]}, 1, "status", "firing"),
        (
            {"alerts": [{**an_alert(), "labels": {"feature": "f", "severity": 1}}]},
            0,
            "labels.severity",
            "valid string",
        ),
        ({"alerts": [{**an_alert(), "startsAt": "yesterday"}]}, 0, "startsAt", "datetime"),
        ({"alerts": [{**an_alert(), "labels": None}]}, 0, "labels", "valid dictionary"),
        ({**a_webhook(), "version": "3"}, None, "version", "version '3' is not supported"),
        ({**a_webhook(), "truncatedAlerts": -1}, None, "truncatedAlerts", "greater than"),
        ({"alerts": [an_alert(), {**an_alert(), "startsAt": ZERO}]}, 1, "startsAt", "1970"),
        ({"alerts": [{**an_alert("resolved"), "endsAt": ZERO}]}, 0, "endsAt", "1970 and 2999"),
        ({"alerts": [{**an_alert("resolved"), "endsAt": None}]}, 0, "endsAt", "time it ended"),
    ],
    ids=[
        "not an object",
        "no alerts",
        "alerts not a list",
        "alert not an object",
        "unknown status",
        "label not a string",
        "startsAt not a time",
        "labels not an object",
        "other version",
        "negative truncation",
        "firing at Go's zero time",
        "resolved at Go's zero time",
        "resolved without end",
    ],
)
def test_a_malformed_payload_is_refused_naming_the_alert_index_and_field(
    payload: Any, row: int | None, field: str | None, message: str
) -> None:
    [problem] = rejection(payload).problems

    assert (problem.row, problem.field) == (row, field)
    assert message in problem.message


def test_the_refusal_reads_as_alert_index_and_field() -> None:
    error = rejection({"alerts": [an_alert(), {**an_alert(), "startsAt": "yesterday"}]})

    assert str(error).startswith("alert 1, field 'startsAt': ")


def test_every_bad_time_of_a_payload_is_named_at_once() -> None:
    bad = {**an_alert(), "startsAt": ZERO}
    error = rejection(a_webhook(bad, an_alert(), bad))

    assert [p.row for p in error.problems] == [0, 2]
    assert "(and 1 more problems)" in str(error)


def test_the_modules_examples_hold() -> None:
    failed, attempted = doctest.testmod(alertmanager, verbose=False, report=False)
    assert attempted >= 5
    assert failed == 0
