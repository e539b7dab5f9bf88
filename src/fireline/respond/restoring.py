"""Staged restoration at work: once an incident's alerts recover, its guard lets traffic back
in stages, and each tick the canary judge compares the restored users' calls with the
healthy traffic before the incident, to promote, hold or roll back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from fireline.contain.canary import Judgement, Rate, Values, Worse, judge
from fireline.contain.config import Containment
from fireline.contain.restore import Phase, Restoration, Verdict
from fireline.detect.base import SignalKind
from fireline.detect.catalog import signal_named
from fireline.domain.alert import Alert
from fireline.domain.guard import ContainmentLevel, Guard
from fireline.domain.incident import Incident, IncidentState, TimelineEntry, can_transition
from fireline.investigate.predicates import (
    SignalPredicate,
    predicate,
    segment_condition,
    segment_label,
)
from fireline.investigate.reader import BY_FALLBACK
from fireline.store.state import StateTx
from fireline.store.telemetry import TelemetryStore

RESTORE_ACTOR = "policy:restoration"
#: The timeline entry of a regression eval run on an incident (`data.passed`, `data.pass_rate`).
EVALS_RUN = "evals_run"
#: Levels that take users off the normal path, and so are given back in stages. A full
#: shutdown (5) is lifted by a person; a warning (1) changes no path.
STAGED_LEVELS = (
    ContainmentLevel.HUMAN_REVIEW,
    ContainmentLevel.FALLBACK,
    ContainmentLevel.FEATURE_DISABLED,
)
#: Resolves an incident by the policy (the incident service's, with its notifications).
Resolve = Callable[[StateTx, int, str], object]
#: Whether a call says it was served on the restored path.
_RESTORED = "coalesce(json_extract_string(attributes, '$.restored') IN ('true', '1'), false)"
#: Most latency values read per arm: plenty for Mann-Whitney, bounded work per tick.
_MAX_VALUES = 5000


def begin(tx: StateTx, incident: Incident, containment: Containment, now: datetime) -> bool:
    """Start a staged restoration of the incident's guard (or leave it to the tick's retry
    after a rolled-back attempt); False when there is nothing to stage (the caller resolves
    the incident at once)."""
    settings = containment.restoration
    guard = tx.get_guard(incident.feature)
    if (
        not settings.enabled
        or len(settings.stages) < 2
        or guard.incident_id != incident.incident_id
        or guard.level not in STAGED_LEVELS
        or not can_transition(incident.state, IncidentState.RESTORING)
        or not _judged_from_calls(tx, incident)
    ):
        return False
    attempt = 1
    if guard.restoration:
        previous = Restoration.from_state(guard.restoration)
        attempt = previous.attempt + 1
        wait = timedelta(seconds=settings.retry_after_s)
        if previous.phase is Phase.ROLLED_BACK and now - previous.stage_started_at < wait:
            return True  # too soon after a rolled-back attempt: the tick retries later
    assert incident.incident_id is not None
    restoration = Restoration.start(
        incident.feature,
        salt=f"{incident.feature}:{incident.incident_id}:{attempt}",
        at=now,
        settings=settings,
        attempt=attempt,
    )
    tx.put_guard(replace(guard, restoration=restoration.to_state(), updated_at=now))
    tx.save_incident(incident.transition(IncidentState.RESTORING, now), now=now)
    _log(
        tx,
        incident.incident_id,
        "restoration_started",
        f"every alert recovered: restoring {incident.feature} in stages "
        f"{' → '.join(f'{s:.0%}' for s in restoration.stages)} of {restoration.unit}s"
        f" (attempt {attempt}); {restoration.share:.0%} back on the normal path",
        now,
        {"share": restoration.share, "attempt": attempt, "salt": restoration.salt},
    )
    return True


def record_evals_run(
    tx: StateTx,
    incident_id: int,
    *,
    pass_rate: float,
    cases: int,
    min_pass_rate: float,
    target: str,
    actor: str,
    at: datetime,
) -> bool:
    """Put a regression eval run on the incident's timeline (what the last restoration step
    waits for when `require_evals` is set); whether it passed."""
    tx.get_incident(incident_id)
    passed = cases > 0 and pass_rate >= min_pass_rate
    tx.append_timeline(
        TimelineEntry(
            incident_id,
            at,
            actor,
            EVALS_RUN,
            f"regression evals against {target}: {pass_rate:.0%} of {cases} cases passed "
            f"(needed {min_pass_rate:.0%}): {'passed' if passed else 'failed'}",
            {"passed": passed, "pass_rate": pass_rate, "cases": cases, "target": target},
        )
    )
    return passed


def _judged_from_calls(tx: StateTx, incident: Incident) -> bool:
    """Whether the incident came from fireline's own detection (its calls can be judged), not
    only from an outside source such as Alertmanager, whose resolution is taken as it is."""
    alerts = tx.alerts(incident_id=incident.incident_id)
    return any(a.evidence.get("source") != "alertmanager" for a in alerts)


def under_way(guard: Guard, incident: Incident) -> bool:
    """Whether the incident's guard is being restored in stages now."""
    return (
        guard.incident_id == incident.incident_id
        and bool(guard.restoration)
        and guard.restore_share > 0
    )


def abort(tx: StateTx, incident: Incident, now: datetime, why: str) -> Incident:
    """Roll a restoration under way back (everyone on the contained path again)."""
    guard = tx.get_guard(incident.feature)
    if not guard.restoration or guard.restoration.get("phase") != Phase.RESTORING:
        return incident
    current = Restoration.from_state(guard.restoration)
    rolled = current.step(Verdict.ROLLBACK, now)
    tx.put_guard(replace(guard, restoration=rolled.to_state(), updated_at=now))
    assert incident.incident_id is not None
    _log(
        tx,
        incident.incident_id,
        "restoration_rolled_back",
        f"restoration of {incident.feature} rolled back at {current.share:.0%}: {why}",
        now,
        {"share": current.share, "attempt": current.attempt},
    )
    if can_transition(incident.state, IncidentState.CONTAINED):
        incident = incident.transition(IncidentState.CONTAINED, now)
        tx.save_incident(incident, now=now)
    return incident


class RestorationService:
    """Judges every restoration under way at each tick, and retries rolled-back ones."""

    def __init__(self, containment: Containment, telemetry: TelemetryStore) -> None:
        self.containment = containment
        self.telemetry = telemetry

    def tick(self, tx: StateTx, now: datetime, resolve: Resolve) -> None:
        for guard in tx.list_guards(active_only=True):
            if not guard.restoration or guard.incident_id is None:
                continue
            incident = tx.get_incident(guard.incident_id, for_update=True)
            if not incident.is_open:
                continue
            restoration = Restoration.from_state(guard.restoration)
            if restoration.phase is Phase.RESTORING:
                self._judge(tx, guard, incident, restoration, now, resolve)
            elif restoration.phase is Phase.ROLLED_BACK:
                self._retry(tx, incident, restoration, now)

    def _judge(
        self,
        tx: StateTx,
        guard: Guard,
        incident: Incident,
        restoration: Restoration,
        now: datetime,
        resolve: Resolve,
    ) -> None:
        assert incident.incident_id is not None
        settings = self.containment.restoration.judge
        if not restoration.baked(now):
            settings = settings.model_copy(update={"alpha": settings.interim_alpha})
        judgement = judge(self.signals(tx, guard, incident, restoration, now), settings)
        verdict, reason = judgement.verdict, judgement.reason
        longest = self.containment.restoration.max_stage_s
        waited = (now - restoration.stage_started_at).total_seconds()
        if judgement.short_of_data and longest and waited >= longest:
            verdict = Verdict.PROMOTE
            reason = f"too little traffic to judge after {longest // 60} min ({reason})"
        after = restoration.step(verdict, now)
        if after.phase is Phase.RESTORED and not self._evals_allow(tx, incident, restoration, now):
            return
        if after == restoration:
            return
        evidence = _evidence(judgement)
        if after.phase is Phase.ROLLED_BACK:
            abort(tx, incident, now, reason)
            return
        _log(
            tx,
            incident.incident_id,
            "restoration_promoted",
            f"canary at {restoration.share:.0%}: {reason}; "
            f"{after.share:.0%} of {after.unit}s on the normal path",
            now,
            {"from": restoration.share, "to": after.share, "tests": evidence},
        )
        if after.phase is Phase.RESTORED:
            resolve(tx, incident.incident_id, "restored to all traffic in stages")
        else:
            tx.put_guard(replace(guard, restoration=after.to_state(), updated_at=now))

    def _evals_allow(
        self, tx: StateTx, incident: Incident, restoration: Restoration, now: datetime
    ) -> bool:
        """Whether the last step may go ahead: no evals required, or the newest eval run
        recorded on the incident's timeline since this attempt began passed. Says once per
        attempt that it is waiting."""
        if not self.containment.restoration.require_evals:
            return True
        assert incident.incident_id is not None
        timeline = tx.timeline(incident.incident_id)
        started = max(
            (e.at for e in timeline if e.kind == "restoration_started"),
            default=incident.detected_at,
        )
        runs = [e for e in timeline if e.kind == EVALS_RUN and e.at >= started]
        if runs and runs[-1].data.get("passed") is True:
            return True
        waiting = any(e.kind == "restoration_waiting" and e.at >= started for e in timeline)
        if not waiting:
            _log(
                tx,
                incident.incident_id,
                "restoration_waiting",
                f"canary at {restoration.share:.0%} is healthy; all traffic waits for the "
                f"incident's regression evals to pass (fireline eval run CASES --incident "
                f"{incident.incident_id})",
                now,
                {"share": restoration.share},
            )
        return False

    def _retry(
        self, tx: StateTx, incident: Incident, restoration: Restoration, now: datetime
    ) -> None:
        wait = timedelta(seconds=self.containment.restoration.retry_after_s)
        if now - restoration.stage_started_at < wait:
            return
        if tx.alerts(incident_id=incident.incident_id, open_only=True):
            return  # still alarming: the detectors' recovery starts the next attempt
        begin(tx, incident, self.containment, now)

    def signals(
        self,
        tx: StateTx,
        guard: Guard,
        incident: Incident,
        restoration: Restoration,
        now: datetime,
    ) -> list[Values | Rate]:
        """The canary's and the baseline's error rate and latency, and each signal the
        incident alerted on, in its segment, with a margin of half the worst shift it saw:
        canary = the calls marked `restored` since the stage began (else all the stage's
        calls but the fallback's); baseline = the feature's calls over `baseline_s` before
        the incident's first alert."""
        alerts = tx.alerts(incident_id=incident.incident_id)
        onset = min((a.window_start for a in alerts), default=incident.detected_at)
        base_from = onset - timedelta(seconds=self.containment.restoration.baseline_s)
        canary = self._arm(guard.feature, restoration.stage_started_at, now, canary=True)
        baseline = self._arm(guard.feature, base_from, onset, canary=False)
        wanted: dict[str, tuple[str, dict[str, str], float | None]] = {
            "error_rate": ("error_rate", {}, None),
            "latency_ms": ("latency", {}, None),
        }
        for (signal, within), half in _alerted(alerts).items():
            segment = dict(within)
            name = signal + segment_label(segment) if segment else _GENERAL.get(signal, signal)
            wanted[name] = (signal, segment, half)
        found: list[Values | Rate] = []
        for name, (signal, segment, margin) in wanted.items():
            reading = predicate(signal, feature=guard.feature)
            if not reading.note:  # a note: no per-call reading, the error rate stands in
                found.append(self._reading(name, reading, segment, margin, canary, baseline))
        return found

    def _arm(self, feature: str, start: datetime, end: datetime, *, canary: bool) -> _Arm:
        """The calls of one arm, as SQL. User ids are pseudonymised at ingest, so fireline
        cannot redo the app's assignment: the app marks the calls it served on the restored
        path (attribute `restored`). An app that marks none is judged on all the stage's
        calls but those it marks `fallback`: under containment only the restored share and
        the probes reach the model."""
        params = {"arm_feature": feature, "arm_start": _naive(start), "arm_end": _naive(end)}
        where = "feature = $arm_feature AND time >= $arm_start AND time < $arm_end"
        if canary:
            ((marked,),) = self.telemetry.query(
                f"SELECT count(*) FROM calls WHERE {where} AND {_RESTORED}",  # noqa: S608 - constant SQL
                params,
            )
            where += f" AND {_RESTORED}" if marked else f" AND NOT {BY_FALLBACK}"
        return _Arm(where, params)

    def _reading(
        self,
        name: str,
        reading: SignalPredicate,
        segment: dict[str, str],
        margin: float | None,
        canary: _Arm,
        baseline: _Arm,
    ) -> Values | Rate:
        """One signal read on both arms: hits out of calls for a rate, per-call values
        (at most `_MAX_VALUES`, a fixed sample) for a metric."""
        condition, within = segment_condition(segment)
        if reading.kind == "rate":
            (c_hits, c_calls), (b_hits, b_calls) = (
                self.telemetry.query_named(
                    f"SELECT count(*) FILTER (WHERE {reading.where}), count(*) FROM calls "  # noqa: S608 - constant SQL
                    f"WHERE {arm.where} AND {condition}",
                    {**arm.params, **within, **reading.params},
                )[0]
                for arm in (canary, baseline)
            )
            return Rate(name, int(c_hits), int(c_calls), int(b_hits), int(b_calls), margin=margin)
        c_values, b_values = (
            [
                float(v)
                for (v,) in self.telemetry.query_named(
                    f"SELECT {reading.metric} FROM calls WHERE {arm.where} AND {condition} "  # noqa: S608 - constant SQL
                    f"AND {reading.where} ORDER BY hash(call_id) LIMIT {_MAX_VALUES}",
                    {**arm.params, **within, **reading.params},
                )
            ]
            for arm in (canary, baseline)
        )
        worse: Worse = "lower" if reading.direction < 0 else "higher"
        return Values(name, c_values, b_values, worse=worse, margin=margin)


@dataclass(frozen=True, slots=True)
class _Arm:
    """One arm of the judge's comparison: which calls, as SQL and its parameters."""

    where: str
    params: dict[str, Any]


#: Whole-feature alerts that sharpen the judge's own error and latency tests.
_GENERAL = {"error_rate": "error_rate", "latency": "latency_ms"}
#: Signals read per call (a rate or a mean), so a canary can be judged on them; drift tests,
#: counts and hourly totals are not.
_PER_CALL = frozenset({SignalKind.RATE, SignalKind.MEAN})


def _alerted(alerts: list[Alert]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The per-call signals the incident alerted on, by segment, each with half the worst
    shift from its baseline any of its alerts saw: the canary must be shown back at least
    halfway before it is promoted."""
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for alert in alerts:
        named = signal_named(alert.signal)
        if named is None or named.kind not in _PER_CALL:
            continue
        key = (alert.signal, tuple(sorted(alert.segment.items())))
        half = abs(alert.current_value - alert.baseline_value) / 2
        found[key] = max(found.get(key, 0.0), half)
    return found


def _evidence(judgement: Judgement) -> list[dict[str, Any]]:
    return [
        {
            "signal": t.signal,
            "test": t.test,
            "canary_n": t.canary_n,
            "baseline_n": t.baseline_n,
            "canary": t.canary,
            "baseline": t.baseline,
            "p_value": t.p_value,
            "alpha": t.alpha,
            "margin": t.margin,
            "proven": t.proven,
        }
        for t in judgement.tests
    ]


def _log(
    tx: StateTx, incident_id: int, kind: str, message: str, now: datetime, data: dict[str, Any]
) -> None:
    tx.append_timeline(TimelineEntry(incident_id, now, RESTORE_ACTOR, kind, message, data))


def _naive(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(tzinfo=None)
