"""Prometheus Alertmanager's webhook (payload version 4), mapped to fireline alerts and recoveries.

Pure: no I/O and no clock. `map_webhook` validates a decoded JSON payload and turns every
alert of it into an `Alert` (firing) or a `Recovery` (resolved) for the feature named by one
of its labels, or into a `Skipped` with the reason; the API applies the events.

Alertmanager sends (`notify/webhook` in Alertmanager's source):

    {"version": "4", "groupKey": "...", "truncatedAlerts": 0, "receiver": "fireline",
     "status": "firing" | "resolved", "externalURL": "http://alertmanager:9093",
     "groupLabels": {...}, "commonLabels": {...}, "commonAnnotations": {...},
     "alerts": [{"status": "firing" | "resolved", "labels": {...}, "annotations": {...},
                 "startsAt": RFC 3339, "endsAt": RFC 3339 (0001-01-01T00:00:00Z when unset),
                 "generatorURL": "...", "fingerprint": "16 hex digits"}]}

Fields fireline does not use are kept (`extra="allow"`), so newer Alertmanagers that add
fields are accepted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from fireline.clock import as_utc
from fireline.domain.alert import Alert, Recovery
from fireline.domain.incident import IncidentType
from fireline.domain.severity import Severity
from fireline.errors import InvalidInput, Problem
from fireline.ingest.schema import MAX_PROBLEMS, FeatureName

#: The webhook payload version this module understands (Alertmanager's only one since 0.9).
WEBHOOK_VERSION = "4"
#: Detector names of Alertmanager alerts start with this.
DETECTOR_PREFIX = "alertmanager"
#: The label that names an alert's incident type (an `IncidentType` value).
TYPE_LABEL = "fireline_type"
#: The label that grades an alert.
SEVERITY_LABEL = "severity"
#: Severity of an alert whose `severity` label is missing or not in `SEVERITY_BY_LABEL`.
DEFAULT_SEVERITY = Severity.P2
#: Severity label values (compared case-insensitively) and the fireline severity of each.
#: A value that already is P0..P3 is taken as it is. `critical` is P1, not P0: P0 (and with
#: it an immediate response) must be asked for by name.
SEVERITY_BY_LABEL: Mapping[str, Severity] = {
    "critical": Severity.P1,
    "error": Severity.P2,
    "high": Severity.P2,
    "warning": Severity.P2,
    "info": Severity.P3,
    "low": Severity.P3,
    "none": Severity.P3,
}
#: Longest detector, feature and signal name the state store keeps.
MAX_NAME_CHARS = 128
#: Label used when an alert has no `alertname` (Prometheus always sets one).
UNNAMED = "unnamed"

_FEATURE = TypeAdapter(FeatureName)
_EARLIEST_YEAR, _LATEST_YEAR = 1970, 2999

LabelMap = dict[str, Annotated[str, Field(strict=True)]]
Fingerprint = Annotated[str, StringConstraints(max_length=64, strip_whitespace=True, strict=True)]


class AlertIn(BaseModel):
    """One alert of a webhook, as Alertmanager sends it."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    status: Literal["firing", "resolved"]
    labels: LabelMap
    annotations: LabelMap = Field(default_factory=dict)
    starts_at: datetime = Field(alias="startsAt")
    ends_at: datetime | None = Field(default=None, alias="endsAt")
    generator_url: Annotated[str, Field(strict=True)] = Field(default="", alias="generatorURL")
    #: Alertmanager's hash of the label set; derived from the labels when absent.
    fingerprint: Fingerprint = ""


class WebhookIn(BaseModel):
    """A whole webhook notification: one alert group."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    version: Annotated[str, Field(strict=True)] = WEBHOOK_VERSION
    receiver: Annotated[str, Field(strict=True)] = ""
    status: Literal["firing", "resolved"] | None = None
    alerts: list[AlertIn]
    group_labels: LabelMap = Field(default_factory=dict, alias="groupLabels")
    common_labels: LabelMap = Field(default_factory=dict, alias="commonLabels")
    common_annotations: LabelMap = Field(default_factory=dict, alias="commonAnnotations")
    external_url: Annotated[str, Field(strict=True)] = Field(default="", alias="externalURL")
    group_key: Annotated[str, Field(strict=True)] = Field(default="", alias="groupKey")
    #: Alerts Alertmanager left out because of the receiver's `max_alerts`.
    truncated_alerts: Annotated[int, Field(ge=0, strict=True)] = Field(
        default=0, alias="truncatedAlerts"
    )


@dataclass(frozen=True, slots=True)
class Skipped:
    """An alert of the payload that fireline did not act on, and why."""

    index: int
    status: str
    alertname: str | None
    fingerprint: str
    reason: str


@dataclass(frozen=True, slots=True)
class WebhookEvents:
    """What one webhook asks fireline to do, in the payload's order."""

    events: list[Alert | Recovery] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    received: int = 0
    truncated_alerts: int = 0


def map_webhook(payload: Any, *, feature_label: str) -> WebhookEvents:
    """Validate a decoded webhook payload and map its alerts; raise InvalidInput if malformed.

    Problems name the field and, for a field of one alert, its index in `alerts` (from 0).
    """
    return to_events(parse_webhook(payload), feature_label=feature_label)


def parse_webhook(payload: Any) -> WebhookIn:
    """The payload as a `WebhookIn`, or InvalidInput naming the malformed fields (up to 20)."""
    if not isinstance(payload, dict):
        raise InvalidInput(
            [Problem(None, None, "body must be a JSON object: an Alertmanager webhook payload")]
        )
    try:
        webhook = WebhookIn.model_validate(payload)
    except ValidationError as error:
        raise InvalidInput(_problems(error)) from None
    if webhook.version != WEBHOOK_VERSION:
        raise InvalidInput(
            [
                Problem(
                    None,
                    "version",
                    f"webhook payload version '{webhook.version}' is not supported "
                    f"(fireline reads version {WEBHOOK_VERSION})",
                )
            ]
        )
    return webhook


def to_events(webhook: WebhookIn, *, feature_label: str) -> WebhookEvents:
    """Map each alert to an Alert or a Recovery, or skip it.

    Raise InvalidInput if an alert lacks the time its status needs (`startsAt` when firing,
    `endsAt` when resolved) or has one outside 1970-2999 (Go's zero time, year 1).
    """
    problems = [
        problem
        for index, alert in enumerate(webhook.alerts)
        if (problem := _time_problem(index, alert)) is not None
    ]
    if problems:
        raise InvalidInput(problems[:MAX_PROBLEMS])
    result = WebhookEvents(received=len(webhook.alerts), truncated_alerts=webhook.truncated_alerts)
    for index, alert in enumerate(webhook.alerts):
        fingerprint = alert.fingerprint or label_fingerprint(alert.labels)
        alertname = alert.labels.get("alertname") or None
        raw_feature = alert.labels.get(feature_label, "")
        reason = None
        if not raw_feature:
            reason = f"no '{feature_label}' label to name the fireline feature"
        elif not _valid_feature(raw_feature):
            reason = (
                f"label '{feature_label}' is '{_shorten(raw_feature)}', not a feature name "
                "(1-128 of A-Z a-z 0-9 . _ : / -, starting with a letter or digit)"
            )
        if reason is not None:
            result.skipped.append(Skipped(index, alert.status, alertname, fingerprint, reason))
            continue
        result.events.append(
            _event(
                alert,
                webhook,
                feature=raw_feature,
                alertname=alertname or UNNAMED,
                fingerprint=fingerprint,
            )
        )
    return result


def detector_name(alertname: str, fingerprint: str) -> str:
    """`alertmanager:<alertname>:<fingerprint>`, cutting a long alertname to fit the store.

    The fingerprint identifies the alert's label set, so a cut alertname stays unique.

    >>> detector_name("HighErrorRate", "1a30ba71cca2921f")
    'alertmanager:HighErrorRate:1a30ba71cca2921f'
    """
    room = MAX_NAME_CHARS - len(DETECTOR_PREFIX) - len(fingerprint) - 2
    return f"{DETECTOR_PREFIX}:{alertname[: max(room, 0)]}:{fingerprint}"[:MAX_NAME_CHARS]


def severity_for(labels: Mapping[str, str]) -> tuple[Severity, str]:
    """The fireline severity of an alert from its `severity` label, and the rule applied.

    >>> severity_for({"severity": "critical"})
    (<Severity.P1: 'P1'>, "severity label 'critical' is P1")
    >>> severity_for({"severity": "p0"})[0], severity_for({})[0]
    (<Severity.P0: 'P0'>, <Severity.P2: 'P2'>)
    """
    raw = labels.get(SEVERITY_LABEL, "")
    value = raw.strip().lower()
    if not value:
        return DEFAULT_SEVERITY, f"no severity label: {DEFAULT_SEVERITY}"
    if value.upper() in Severity.__members__:
        return Severity(value.upper()), f"severity label '{_shorten(raw)}' taken as it is"
    if value in SEVERITY_BY_LABEL:
        severity = SEVERITY_BY_LABEL[value]
        return severity, f"severity label '{_shorten(raw)}' is {severity}"
    return DEFAULT_SEVERITY, f"unknown severity label '{_shorten(raw)}': {DEFAULT_SEVERITY}"


def incident_type_for(labels: Mapping[str, str]) -> IncidentType:
    """The incident type named by the `fireline_type` label, availability otherwise.

    >>> incident_type_for({"fireline_type": "Quality"}), incident_type_for({})
    (<IncidentType.QUALITY: 'quality'>, <IncidentType.AVAILABILITY: 'availability'>)
    """
    value = labels.get(TYPE_LABEL, "").strip().lower()
    try:
        return IncidentType(value)
    except ValueError:
        return IncidentType.AVAILABILITY


def label_fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's fingerprint of a label set (Prometheus' FNV-1a 64 label signature).

    Used for payloads without `fingerprint`, so that they name the same detector as payloads
    with one.

    >>> label_fingerprint({"name": "garland, briggs", "fear": "love is not enough"})
    '507a62d79ee76c9a'
    """
    value = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in (*part.encode(), _SEPARATOR):
                value = ((value ^ byte) * _FNV_PRIME) & _MASK_64
    return f"{value:016x}"


_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK_64 = 2**64 - 1
_SEPARATOR = 0xFF


def _event(
    alert: AlertIn, webhook: WebhookIn, *, feature: str, alertname: str, fingerprint: str
) -> Alert | Recovery:
    detector = detector_name(alertname, fingerprint)
    evidence: dict[str, Any] = {
        "source": "alertmanager",
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "generatorURL": alert.generator_url,
        "fingerprint": fingerprint,
        "externalURL": webhook.external_url,
        "receiver": webhook.receiver,
    }
    if alert.status == "resolved":
        assert alert.ends_at is not None  # checked by to_events
        return Recovery(
            detector=detector,
            feature=feature,
            at=as_utc(alert.ends_at),
            evidence=evidence,
            summary=f"Alertmanager alert {alertname} resolved",
        )
    severity, rule = severity_for(alert.labels)
    starts_at = as_utc(alert.starts_at)
    return Alert(
        detector=detector,
        feature=feature,
        signal=alertname[:MAX_NAME_CHARS],
        incident_type=incident_type_for(alert.labels),
        fired_at=starts_at,
        window_start=starts_at,
        window_end=starts_at,
        # Not statistics: Alertmanager reports that a rule fires, not a measured rate.
        baseline_value=0.0,
        current_value=0.0,
        p_value=0.0,
        evidence={**evidence, "severity_rule": rule},
        severity=severity,
        summary=_summary(alertname, feature, alert.annotations),
    )


def _summary(alertname: str, feature: str, annotations: dict[str, str]) -> str:
    """What fired, in Alertmanager's own words when its rule has a summary annotation."""
    said = annotations.get("summary") or annotations.get("description")
    headline = f"Alertmanager alert {alertname} firing for {feature}"
    return f"{headline}: {said[:300]}" if said else headline


def _time_problem(index: int, alert: AlertIn) -> Problem | None:
    """The time the alert's status needs, if it is missing or implausible."""
    name = "startsAt" if alert.status == "firing" else "endsAt"
    value = alert.starts_at if alert.status == "firing" else alert.ends_at
    if value is None:
        message = "a resolved alert needs the time it ended"
    elif not _EARLIEST_YEAR <= value.year <= _LATEST_YEAR:
        message = (
            f"{value.isoformat()} is not a usable time for a {alert.status} alert "
            f"(must be between {_EARLIEST_YEAR} and {_LATEST_YEAR})"
        )
    else:
        return None
    return Problem(index, name, message, row_label="alert")


def _problems(error: ValidationError) -> list[Problem]:
    problems = []
    for detail in error.errors(include_url=False)[:MAX_PROBLEMS]:
        location = list(detail["loc"])
        index = None
        if len(location) >= 2 and location[0] == "alerts" and isinstance(location[1], int):
            index, location = location[1], location[2:]
        where = ".".join(str(part) for part in location) or None
        problems.append(Problem(index, where, detail["msg"], row_label="alert"))
    return problems


def _valid_feature(value: str) -> bool:
    try:
        _FEATURE.validate_python(value)
    except ValidationError:
        return False
    return True


def _shorten(value: str, limit: int = 80) -> str:
    return value if len(value) <= limit else f"{value[: limit - 1]}…"


__all__: Sequence[str] = [
    "DEFAULT_SEVERITY",
    "SEVERITY_BY_LABEL",
    "AlertIn",
    "Skipped",
    "WebhookEvents",
    "WebhookIn",
    "detector_name",
    "incident_type_for",
    "label_fingerprint",
    "map_webhook",
    "parse_webhook",
    "severity_for",
    "to_events",
]
