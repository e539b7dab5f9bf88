"""Investigating an incident: reads the state and telemetry stores, and weighs what it read
with the pure functions of this package."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from scipy.stats import poisson

from fireline.detect.base import SignalKind
from fireline.detect.catalog import EVAL_FAIL_RATE, EVAL_SCORE, SCAN_RATE, signal_named
from fireline.domain.alert import Alert
from fireline.domain.incident import Incident, IncidentState
from fireline.domain.telemetry import ChangeKind
from fireline.investigate.onset import ChangePoint, bernoulli_change_point, gaussian_change_point
from fireline.investigate.predicates import SignalPredicate, predicate
from fireline.investigate.reader import Scope, TelemetryReader, Term
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
#: Failure rates checked for a rise beside an alerting rate (with every scanner that hit
#: and every eval scored), and how clear a rise must be: at least RISEN_FACTOR times the
#: baseline's rate, RISEN_MIN calls, and a Poisson tail below RISEN_P.
RISEN_SIGNALS = ("error_rate", "refusal_rate", "empty_rate", "thumbs_down_rate", "regenerate_rate")
FEEDBACK_SIGNALS = ("thumbs_down_rate", "regenerate_rate")
#: Means computed from others: their tails add calls that are dear for other reasons.
DERIVED = {"cost_per_call": {"input_tokens", "output_tokens"}}
RISEN_FACTOR = 2.0
RISEN_MIN = 5
RISEN_P = 1e-4
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
        if found.signal.startswith(EVAL_SCORE):
            scope = replace(scope, signal=self._failing(found))
        elif found.kind == "metric":
            scope = replace(scope, threshold=self._tail(scope, onset.at))
        resolved = incident.time_of(IncidentState.RESOLVED)
        end = max(resolved if resolved is not None and not incident.is_open else now, onset.at)
        if alert is not None:
            alerted, segments = self._alerted(scope, alert, raised, onset.at)
            scope = replace(scope, also=alerted)
            if _specificity(alert) == _SPECIFIC[SignalKind.RATE]:
                # Rises are judged over the harm's window, not the contained hours after it.
                until = self._harm_end(scope, onset.at, end, raised)
                counted = [scope.primary, *alerted]
                risen = self._risen(scope, counted, segments, onset.at, until)
                scope = replace(scope, also=(*alerted, *risen))
        end = self._harm_end(scope, onset.at, end, raised)
        last = self.reader.blast(scope, onset.at, end)[4] or end
        return Case(incident, incident_id, scope, onset, end, resolved is None, last)

    def _failing(self, score: SignalPredicate) -> SignalPredicate:
        """An eval's mean fell: the calls that failed the eval (scored below the pass mark)
        are the affected ones, as for its failure rate."""
        name = score.signal[len(EVAL_SCORE) :]
        found = predicate(EVAL_FAIL_RATE + name, feature="", eval_pass=self.eval_pass)
        note = f"{score.signal} fell: affected calls are those scoring below {self.eval_pass:g}"
        return replace(found, note=note)

    def _tail(self, scope: Scope, onset: datetime) -> float:
        """The metric's baseline tail: the value beyond which a call counts as failing."""
        quantile = 1 - TAIL if scope.signal.direction < 0 else TAIL
        tail = self.reader.tail(scope, onset - LOOKBACK, onset, quantile)
        return tail if tail is not None else 0.0

    def _alerted(
        self, scope: Scope, primary: Alert, raised: Sequence[Alert], onset: datetime
    ) -> tuple[tuple[Term, ...], list[dict[str, str]]]:
        """The incident's other failures as specific as the primary one (rates beside a
        rate, tails of means beside a mean; drift names no calls), each in its alert's
        segment, and the segments alerted: the calls showing any of them are affected. A
        failure already covered by a wider segment is left out, and so is a mean derived
        from others that alerted (cost per call, from the tokens)."""
        rank = _specificity(primary)
        if rank >= _DRIFT:
            return (), [dict(scope.segment)]
        terms: list[Term] = [scope.primary]
        segments: list[dict[str, str]] = [dict(scope.segment)]
        for alert in sorted(raised, key=lambda a: (len(a.segment), a.fired_at)):
            if _specificity(alert) != rank:
                continue
            found = predicate(alert.signal, feature=scope.feature, eval_pass=self.eval_pass)
            if found.signal.startswith(EVAL_SCORE):
                found = self._failing(found)
            segment = dict(alert.segment)
            if segment not in segments:
                segments.append(segment)
            stand_in = found.note and not found.signal.startswith(EVAL_FAIL_RATE)
            if stand_in or any(
                t.signal.signal == found.signal and t.segment.items() <= segment.items()
                for t in terms
            ):
                continue
            term = Term(found, segment)
            if found.kind == "metric":
                alone = Scope(scope.feature, found, segment)
                term = Term(found, segment, self._tail(alone, onset))
            terms.append(term)
        named = {t.signal.signal for t in terms}
        kept = [t for t in terms[1:] if not DERIVED.get(t.signal.signal, set()) & named]
        return tuple(kept), segments

    def _risen(
        self,
        scope: Scope,
        terms: Sequence[Term],
        segments: Sequence[dict[str, str]],
        onset: datetime,
        until: datetime,
    ) -> list[Term]:
        """Failure rates that rose with the incident's alerts without alerting (a scanner's
        few hits, thumbs-down that lag behind), in the segment of any of its alerts: the
        calls showing them are affected too. A rate counts when it rose among the calls that
        show none of the failures already counted (thumbs-down answering leaked answers are
        not a harm of their own), and users' feedback is weighed last."""
        scanners, evals = self.reader.scanners_and_evals(scope.feature, onset, until)
        groups = [
            [
                *(n for n in RISEN_SIGNALS if n not in FEEDBACK_SIGNALS),
                *(f"{SCAN_RATE}{s}" for s in scanners),
                *(f"{EVAL_FAIL_RATE}{e}" for e in evals),
            ],
            list(FEEDBACK_SIGNALS),
        ]
        found: list[Term] = []
        for names in groups:
            for segment in segments:
                counted = (*terms, *found)
                covered = {t.signal.signal for t in counted if t.segment.items() <= segment.items()}
                candidates = [
                    predicate(name, feature=scope.feature, eval_pass=self.eval_pass)
                    for name in names
                    if name not in covered
                ]
                if not candidates:
                    continue
                so_far = replace(scope, also=tuple(counted[1:]))
                (calls, base), counts = self.reader.failure_counts(
                    so_far, candidates, onset, until, LOOKBACK, segment
                )
                found += [
                    Term(signal, segment)
                    for signal, (hits, base_hits) in zip(candidates, counts, strict=True)
                    if risen(hits, calls, base_hits, base)
                ]
        return found

    def _harm_end(
        self, scope: Scope, onset: datetime, end: datetime, raised: Sequence[Alert]
    ) -> datetime:
        """When the harm ended: where the share of failing calls (those the model at fault
        answered) fell back, if it clearly did before `end`; else when the last alert
        recovered, if all have and the calls since fail no more than those before the onset;
        else `end`."""
        bucket = timedelta(seconds=self.bucket_s)
        hits, trials = self.reader.rate_series(scope, onset, end, self.bucket_s)
        cp = bernoulli_change_point(hits, trials, direction=-1)
        if cp is not None and cp.llr >= MIN_LLR:
            return onset + bucket * cp.index
        recovered = [a.resolved_at for a in raised]
        if not recovered or any(r is None for r in recovered):
            return end
        last = max(min(end, max(r for r in recovered if r is not None)), onset)
        # Alerts recover when containment hides the harm (the fallback's calls are healthy),
        # while the few calls that still reach the model (the canary, probes) may fail on:
        # a slow drift. Harm has ended only if those fail no more than before the onset.
        after = self.reader.rate_series(scope, last, end, self.bucket_s)
        before = self.reader.rate_series(scope, onset - LOOKBACK, onset, self.bucket_s)
        counts = [int(sum(series)) for pair in (after, before) for series in pair]
        return end if risen(*counts) else last

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
_DRIFT = 2
#: Alerts this close to the first one are the same onset seen by several signals.
SAME_ONSET = timedelta(minutes=5)


def _specificity(alert: Alert) -> int:
    if alert.signal.startswith(EVAL_SCORE):
        return _SPECIFIC[SignalKind.RATE]  # read as the eval's failures (`_failing`)
    found = signal_named(alert.signal)
    return _SPECIFIC.get(found.kind, _DRIFT) if found is not None else 0


def primary_alert(alerts: Sequence[Alert]) -> Alert | None:
    """The alert an investigation follows: of those fired with the first, the one whose
    signal names the bad calls most specifically, then the earliest."""
    if not alerts:
        return None
    first = min(a.fired_at for a in alerts)
    return min(
        (a for a in alerts if a.fired_at - first <= SAME_ONSET),
        key=lambda a: (_specificity(a), a.fired_at),
    )


def rise_p(hits: int, calls: int, base_hits: int, base_calls: int) -> float:
    """The Poisson tail of `hits` of `calls` at the baseline's share (smoothed by half a hit).

    >>> round(rise_p(30, 500, 10, 1000), 12) < 1e-9
    True
    """
    expected = calls * (base_hits + 0.5) / (base_calls + 1)
    return float(poisson.sf(hits - 1, expected)) if hits > 0 else 1.0


def risen(hits: int, calls: int, base_hits: int, base_calls: int) -> bool:
    """Whether `hits` of `calls` is clearly more than the baseline's share.

    >>> risen(30, 500, 10, 1000), risen(12, 500, 10, 1000), risen(4, 10, 0, 1000)
    (True, False, False)
    """
    if hits < RISEN_MIN or calls <= 0:
        return False
    expected = calls * (base_hits + 0.5) / (base_calls + 1)
    return hits >= RISEN_FACTOR * expected and rise_p(hits, calls, base_hits, base_calls) < RISEN_P


def investigator_for(instance: Fireline) -> Investigator:
    """An investigator with a deployment's settings."""
    config = instance.config
    return Investigator(
        instance.telemetry,
        bucket_s=config.detection.bucket_s,
        eval_pass=config.detection.eval_pass_threshold,
        min_healthy_minutes=config.containment.rollback.min_healthy_minutes,
    )
