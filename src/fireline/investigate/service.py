"""Investigating an incident: reads the state and telemetry stores, and weighs what it read
with the pure functions of this package."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from fireline.detect.base import SignalKind
from fireline.detect.catalog import SCAN_RATE, signal_named
from fireline.domain.alert import Alert
from fireline.domain.incident import Incident, IncidentState
from fireline.domain.telemetry import ChangeKind
from fireline.investigate.onset import ChangePoint, bernoulli_change_point, gaussian_change_point
from fireline.investigate.predicates import predicate
from fireline.investigate.reader import Scope, TelemetryReader
from fireline.investigate.report import BlastRadius, Investigation, Onset
from fireline.investigate.segments import MIN_COUNT, in_common
from fireline.investigate.suspects import Suspect, ranked, suspect
from fireline.investigate.topics import MAX_INPUTS, TOPICS, topic_counts, topics
from fireline.respond.rollback import PINNABLE, registry_for
from fireline.store.state import StateTx
from fireline.store.telemetry import TelemetryStore

if TYPE_CHECKING:
    from fireline.runtime import Fireline

#: How far before detection the onset is looked for.
LOOKBACK = timedelta(hours=6)
#: How far before the onset changes are suspects.
CHANGE_WINDOW = timedelta(hours=24)
#: Shortest and longest baseline before the onset.
MIN_BASELINE = timedelta(minutes=30)
MAX_BASELINE = timedelta(hours=24)
#: Smallest log-likelihood ratio taken as a change; below it the alert's window is the onset.
MIN_LLR = 3.0
#: The baseline quantile beyond which a metric (latency, ...) counts as a failure.
TAIL = 0.95
#: How a call runs the version of each kind of change (SQL over `$version`).
RAN: dict[ChangeKind, str] = {
    ChangeKind.MODEL: "(model = $version OR model_version = $version)",
    ChangeKind.PROMPT: "prompt_version = $version",
    ChangeKind.INDEX: "index_version = $version",
}


@dataclass(frozen=True, slots=True)
class Case:
    """An incident as investigation scopes it: its calls, onset and end."""

    incident: Incident
    incident_id: int
    scope: Scope
    onset: Onset
    end: datetime
    live: bool
    #: The last affected call (else `end`): the baseline is as long as the harm lasted.
    last: datetime

    @property
    def baseline(self) -> timedelta:
        """How long before the onset the baseline is: as long as onset to last affected
        call, within MIN_BASELINE and MAX_BASELINE."""
        return min(max(self.last - self.onset.at, MIN_BASELINE), MAX_BASELINE)


class Investigator:
    """Investigates incidents from the stores."""

    def __init__(
        self,
        telemetry: TelemetryStore,
        *,
        bucket_s: int = 60,
        eval_pass: float = 0.5,
        min_healthy_minutes: float = 30,
        min_count: int = MIN_COUNT,
        topics: int = TOPICS,
        max_inputs: int = MAX_INPUTS,
    ) -> None:
        self.reader = TelemetryReader(telemetry)
        #: Input topics compared (0: none) and most inputs read from each side.
        self.topics = topics
        self.max_inputs = max_inputs
        self.bucket_s = bucket_s
        self.eval_pass = eval_pass
        self.min_healthy_minutes = min_healthy_minutes
        self.min_count = min_count

    def case(self, tx: StateTx, incident_id: int, now: datetime) -> Case:
        """The incident's scope, onset and end (raises NotFound for an unknown incident)."""
        incident = tx.get_incident(incident_id)
        raised = tx.alerts(incident_id=incident_id)
        alert = primary_alert(raised)
        signal = alert.signal if alert else "error_rate"
        found = predicate(signal, feature=incident.feature, eval_pass=self.eval_pass)
        scope = Scope(incident.feature, found, dict(alert.segment) if alert else {})
        onset = self._onset(scope, incident.detected_at, alert)
        if found.kind == "metric":
            quantile = 1 - TAIL if found.direction < 0 else TAIL
            tail = self.reader.tail(scope, onset.at - LOOKBACK, onset.at, quantile)
            scope = Scope(scope.feature, found, scope.segment, tail if tail is not None else 0.0)
        resolved = incident.time_of(IncidentState.RESOLVED)
        end = resolved if resolved is not None and not incident.is_open else now
        recovered = [a.resolved_at for a in raised]
        if recovered and all(r is not None for r in recovered):
            # The harm ended when the last alert recovered: a contained or restoring incident
            # stays open longer, and the calls after it show only the usual share of failures.
            end = min(end, max(r for r in recovered if r is not None))
        end = max(end, onset.at)
        last = self.reader.blast(scope, onset.at, end)[4] or end
        return Case(incident, incident_id, scope, onset, end, resolved is None, last)

    def _onset(self, scope: Scope, detected: datetime, alert: Alert | None) -> Onset:
        bucket = timedelta(seconds=self.bucket_s)
        start = detected - LOOKBACK
        start -= timedelta(seconds=start.timestamp() % self.bucket_s)
        cp: ChangePoint | None
        if scope.signal.kind == "rate":
            hits, trials = self.reader.rate_series(scope, start, detected, self.bucket_s)
            cp = bernoulli_change_point(hits, trials, direction=1)
            positions = list(range(len(hits)))
        else:
            means = self.reader.metric_series(scope, start, detected, self.bucket_s)
            positions = [i for i, m in enumerate(means) if m is not None]
            values = [m for m in means if m is not None]
            cp = gaussian_change_point(values, direction=scope.signal.direction)
        if cp is not None and cp.llr >= MIN_LLR:
            return Onset(
                at=start + bucket * positions[cp.index],
                low=start + bucket * positions[cp.low],
                high=start + bucket * (positions[cp.high] + 1),
                method="change_point",
                llr=cp.llr,
                before=cp.before,
                after=cp.after,
            )
        at = alert.window_start if alert else detected
        return Onset(at, at, detected, "alert_window", llr=cp.llr if cp else 0.0)

    def investigate(self, tx: StateTx, incident_id: int, now: datetime) -> Investigation:
        """Everything investigation finds about the incident, as of `now`."""
        case = self.case(tx, incident_id, now)
        scope, onset = case.scope, case.onset
        counts, affected, base = self.reader.counts(scope, onset.at, case.end, case.baseline)
        if self.topics > 0:
            inputs = self.reader.inputs(
                scope, onset.at, case.end, case.baseline, limit=self.max_inputs
            )
            counts += topic_counts(topics(*inputs, k=self.topics))
        segments = in_common(counts, affected, base, min_count=self.min_count)
        calls, users, tenants, first, last = self.reader.blast(scope, onset.at, case.end)
        blast = BlastRadius(calls, users, tenants, first, last, case.end, case.live, scope.why)
        notes = [scope.signal.note] if scope.signal.note else []
        if onset.method != "change_point":
            notes.append(
                "no clear change in the signal before detection: onset is the alert window"
            )
        if scope.signal.signal.startswith(SCAN_RATE):
            notes.append("only scanned calls (the scan sample) can show scanner hits")
        return Investigation(
            incident_id=incident_id,
            feature=case.incident.feature,
            signal=scope.signal.signal,
            segment=scope.segment,
            detected_at=case.incident.detected_at,
            onset=onset,
            suspects=self._suspects(tx, case, now),
            segments=segments,
            blast=blast,
            notes=notes,
        )

    def _suspects(self, tx: StateTx, case: Case, now: datetime) -> list[Suspect]:
        onset, feature = case.onset, case.incident.feature
        changes = tx.list_changes(
            feature=feature,
            since=onset.at - CHANGE_WINDOW,
            until=case.incident.detected_at + timedelta(microseconds=1),
            limit=1_000,
        )
        registry = registry_for(tx, feature, now, min_healthy_minutes=self.min_healthy_minutes)
        slack = (onset.high - onset.at).total_seconds()
        found: list[Suspect] = []
        for change in changes:
            ran = RAN.get(change.kind)
            concentration = None
            if ran is not None:
                concentration = self.reader.concentration(
                    case.scope, onset.at, case.end, case.baseline, ran, change.version
                )
            target = None
            if change.kind in PINNABLE and change.feature is not None:
                current = registry.current(feature, change.kind)
                if current == change.version:
                    target = registry.rollback_target(feature, change.kind)
            found.append(
                suspect(change, onset.at, concentration, slack_s=slack, rollback_target=target)
            )
        return ranked(found)

    def affected(
        self, tx: StateTx, incident_id: int, now: datetime, limit: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """The incident's affected calls in time order (at most `limit`), read lazily."""
        case = self.case(tx, incident_id, now)
        return self.reader.affected(case.scope, case.onset.at, case.end, limit)


#: How specific each kind of signal's predicate of a bad call is: a rate names the bad calls
#: (failed, refused, leaking), a mean the calls in its tail; a drift test only that calls
#: changed.
_SPECIFIC = {SignalKind.RATE: 0, SignalKind.MEAN: 1}
#: Alerts this close to the first one are the same onset seen by several signals.
SAME_ONSET = timedelta(minutes=5)


def primary_alert(alerts: Sequence[Alert]) -> Alert | None:
    """The alert an investigation follows: of those fired with the first, the one whose
    signal names the bad calls most specifically, then the earliest."""
    if not alerts:
        return None
    first = min(a.fired_at for a in alerts)

    def rank(alert: Alert) -> tuple[int, datetime]:
        found = signal_named(alert.signal)
        specific = _SPECIFIC.get(found.kind, 2) if found is not None else 0
        return specific, alert.fired_at

    return min((a for a in alerts if a.fired_at - first <= SAME_ONSET), key=rank)


def investigator_for(instance: Fireline) -> Investigator:
    """An investigator with a deployment's settings."""
    config = instance.config
    return Investigator(
        instance.telemetry,
        bucket_s=config.detection.bucket_s,
        eval_pass=config.detection.eval_pass_threshold,
        min_healthy_minutes=config.containment.rollback.min_healthy_minutes,
    )
