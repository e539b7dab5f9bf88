"""Scoring a drill: the fault's incident found, investigated and compared with the scenario."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fireline.domain.alert import Alert
from fireline.domain.incident import Incident, IncidentState
from fireline.drill.app import Served
from fireline.drill.scorecard import Scorecard, failures_of
from fireline.drill.spec import ScenarioSpec
from fireline.investigate.predicates import segment_label
from fireline.playbooks.engine import by_playbook
from fireline.runtime import Fireline

#: Longest a detection may come after the faults end and still count as detecting them.
DETECTION_GRACE_S = 600


@dataclass
class Outcome:
    """What the simulated app did over the whole drill."""

    harmed: set[str] = field(default_factory=set)
    recorded: int = 0
    fallback: int = 0
    turned_away: int = 0
    failed_for_users: int = 0

    def add(self, served: Served) -> None:
        self.harmed.update(served.harmed)
        self.fallback += served.fallback
        self.turned_away += served.turned_away
        self.failed_for_users += served.failed_for_users


@dataclass
class _Response:
    """What fireline did about the fault's incident, from its timeline."""

    applied: int = 0
    decided: int = 0
    contained_at: datetime | None = None
    lines: list[str] = field(default_factory=list)


def score(
    spec: ScenarioSpec,
    seed: int,
    app: Fireline,
    fired: list[Alert],
    outcome: Outcome,
    *,
    wall_s: float,
) -> Scorecard:
    """The scorecard of a finished drill."""
    onset = min((spec.start + timedelta(seconds=f.onset) for f in spec.faults), default=None)
    end = max(
        (spec.start + timedelta(seconds=f.onset + f.duration) for f in spec.faults), default=None
    )
    hit = {f.feature for f in spec.faults}

    def explained(alert: Alert) -> bool:
        return (
            onset is not None
            and end is not None
            and alert.feature in hit
            and onset <= alert.fired_at <= end + timedelta(seconds=DETECTION_GRACE_S)
        )

    true_alerts = [a for a in fired if explained(a)]
    incidents = app.list_incidents(limit=1_000)
    feature = spec.expected_feature
    # A fault that outlasts its first incident (a slow drift detected early, restored, then
    # seen again) opens more: the first is the response that is graded, all are what
    # fireline attributed to the fault.
    of_fault = [
        i
        for i in sorted(incidents, key=lambda i: i.detected_at)
        if true_alerts
        and i.feature == feature
        and onset is not None
        and end is not None
        and onset <= i.detected_at <= end + timedelta(seconds=DETECTION_GRACE_S)
    ]
    incident = of_fault[0] if of_fault else None
    detected_at = min((a.fired_at for a in true_alerts if a.feature == feature), default=None)
    response = _response(app, incident)
    facts = _investigated(spec, app, of_fault, outcome) if incident else {}
    resolutions = [i.time_of(IncidentState.RESOLVED) for i in of_fault]
    resolved_at = (
        max(r for r in resolutions if r is not None)
        if resolutions and None not in resolutions
        else None
    )
    expected = spec.expected
    card = Scorecard(
        scenario=spec.name,
        seed=seed,
        detected=detected_at is not None,
        time_to_detect_s=_seconds(onset, detected_at),
        time_to_contain_s=_seconds(onset, response.contained_at),
        time_to_resolve_s=_seconds(onset, resolved_at),
        incident_type=incident.type.value if incident else None,
        type_correct=(incident.type == expected.incident_type) if incident and expected else None,
        severity=incident.severity.value if incident else None,
        severity_correct=(incident.severity in expected.severity)
        if incident and expected
        else None,
        containment_level=response.decided if incident else None,
        containment_correct=(response.decided == expected.containment_level)
        if incident and expected
        else None,
        containment_applied=response.applied if incident else None,
        root_cause_rank=facts.get("root_cause_rank"),
        blast_radius_precision=facts.get("precision"),
        blast_radius_recall=facts.get("recall"),
        false_alarms=len(fired) - len(true_alerts),
        eval_cases=facts.get("eval_cases"),
        review_drafted=facts.get("review_drafted"),
        resolved=(resolved_at is not None) if incident else None,
        expected=expected.model_dump(mode="json") if expected else None,
        fault_onset=onset.isoformat() if onset else None,
        detected_at=detected_at.isoformat() if detected_at else None,
        resolved_at=resolved_at.isoformat() if resolved_at else None,
        incidents=len(incidents),
        calls_recorded=outcome.recorded,
        requests_served_by_fallback=outcome.fallback,
        requests_turned_away=outcome.turned_away,
        failed_requests_seen_by_users=outcome.failed_for_users,
        simulated_seconds=spec.duration,
        wall_seconds=round(wall_s, 3),
        passed=False,
        timeline=response.lines,
        false_alarm_alerts=[_described(a) for a in fired if not explained(a)],
    )
    failures = failures_of(card)
    return Scorecard(**{**card.to_dict(), "passed": not failures, "failures": failures})


def _response(app: Fireline, incident: Incident | None) -> _Response:
    found = _Response()
    if incident is None or incident.incident_id is None:
        return found
    with app.state.unit_of_work(read_only=True) as tx:
        entries = tx.timeline(incident.incident_id)
    for e in entries:
        found.lines.append(f"{e.at:%m-%d %H:%M:%S} {e.actor}: {e.kind}: {e.message}")
        if by_playbook(e.actor):
            continue  # the playbook's advice is not the containment policy's decision
        level = (
            int(e.data.get("level", 0)) if e.kind in ("guard_set", "containment_proposed") else 0
        )
        if e.kind == "guard_set":
            found.applied = max(found.applied, level)
        found.decided = max(found.decided, level)
        if found.contained_at is None and (
            (level > 0 and e.kind == "guard_set") or e.kind == "routing"
        ):
            found.contained_at = e.at
    contained = incident.time_of(IncidentState.CONTAINED)
    if contained is not None and (found.contained_at is None or contained < found.contained_at):
        found.contained_at = contained
    return found


def _investigated(
    spec: ScenarioSpec, app: Fireline, incidents: list[Incident], outcome: Outcome
) -> dict[str, Any]:
    """Investigation's findings on the fault's first incident (the root cause) and on all
    of them (the blast radius), scored against the ground truth; the eval cases extracted
    and whether the review could be drafted."""
    from fireline.evals.extract import extract_for
    from fireline.investigate import investigator_for
    from fireline.learn.service import LearningService

    incident = incidents[0]
    assert incident.incident_id is not None
    found: dict[str, Any] = {}
    investigator = investigator_for(app)
    now = app.clock.now()
    listed: set[str] = set()
    with app.state.unit_of_work(read_only=True) as tx:
        report = investigator.investigate(tx, incident.incident_id, now)
        for each in incidents:
            assert each.incident_id is not None
            listed |= {str(r["call_id"]) for r in investigator.affected(tx, each.incident_id, now)}
    cause = spec.expected.root_cause_change if spec.expected else None
    ids = [s.change.change_id for s in report.suspects]
    found["root_cause_rank"] = ids.index(cause) + 1 if cause in ids else None
    truth = outcome.harmed
    hits = len(listed & truth)
    # Nothing listed wrongly when nothing is listed, nothing missed when nothing was harmed
    # (containment came before any harm): both are then 1, as agreement.
    found["precision"] = round(hits / len(listed), 4) if listed else 1.0
    found["recall"] = round(hits / len(truth), 4) if truth else 1.0
    found["eval_cases"] = len(extract_for(app, incident.incident_id).cases)
    if incident.time_of(IncidentState.RESOLVED) is not None:
        found["review_drafted"] = bool(LearningService(app).review(incident.incident_id))
    return found


def _described(alert: Alert) -> str:
    where = segment_label(alert.segment)
    return (
        f"{alert.fired_at:%m-%d %H:%M} {alert.feature} {alert.signal}{where}: "
        f"{alert.current_value:.4g} against {alert.baseline_value:.4g} ({alert.detector})"
    )


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


__all__ = ["DETECTION_GRACE_S", "Outcome", "score"]
