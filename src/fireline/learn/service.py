"""Post-incident learning for the API and the command line: metrics, action items (each
change on the incident's timeline) and the review draft and its acceptance."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from datetime import datetime, timedelta

from fireline.domain.alert import Alert
from fireline.domain.incident import Incident, IncidentState, TimelineEntry
from fireline.domain.telemetry import ChangeKind
from fireline.errors import IllegalTransition, InvalidInput, Problem
from fireline.investigate import Investigation, investigator_for
from fireline.investigate.predicates import predicate
from fireline.investigate.reader import Scope, TelemetryReader
from fireline.learn.actions import (
    ActionCategory,
    ActionChange,
    ActionItem,
    ActionStatus,
    changes_made,
)
from fireline.learn.metrics import MetricsReport, Period, onset_of, report
from fireline.learn.review import ReviewFacts, render_html, render_markdown, signal_plot
from fireline.learn.signal import MAX_SIGNALS, SignalSeries, plot_range
from fireline.learn.store import LearningRepository
from fireline.runtime import Fireline
from fireline.store.state import StateTx

_REVIEWABLE = (IncidentState.RESOLVED, IncidentState.REVIEWED)
#: The signal plot's bucket: a minute.
PLOT_BUCKET_S = 60
#: Scanners whose hits show that retrieval (grounding) was monitored.
RETRIEVAL_SCANNERS = ("grounding",)
#: Signals or detectors about retrieval quality (grounding, faithfulness, the index, ...).
_RETRIEVAL = re.compile(r"ground|retriev|index|faithful|context|citation|rag", re.IGNORECASE)
log = logging.getLogger(__name__)


class LearningService:
    """The learning area of one deployment."""

    def __init__(self, instance: Fireline) -> None:
        self.instance = instance

    def _now(self) -> datetime:
        return self.instance.clock.now()

    # ------------------------------------------------------------ metrics

    def metrics(
        self, period: Period, *, since: datetime | None = None, until: datetime | None = None
    ) -> MetricsReport:
        if since is not None and until is not None and since >= until:
            raise InvalidInput([Problem(None, "since", "must be before until")])
        with self.instance.state.unit_of_work(read_only=True) as tx:
            facts = LearningRepository(tx.connection).incident_facts(since=since, until=until)
        return report(facts, period, since=since, until=until)

    # ------------------------------------------------------------ action items

    def add_action(
        self,
        incident_id: int,
        *,
        title: str,
        category: ActionCategory,
        actor: str,
        owner: str | None = None,
        due: datetime | None = None,
        note: str | None = None,
    ) -> ActionItem:
        now = self._now()
        with self.instance.acting() as tx:
            tx.get_incident(incident_id)
            item = LearningRepository(tx.connection).add_action(
                ActionItem(
                    incident_id=incident_id,
                    title=title,
                    category=category,
                    created_by=actor,
                    created_at=now,
                    updated_at=now,
                    owner=owner,
                    due=due,
                    note=note,
                )
            )
            tx.append_timeline(
                TimelineEntry(
                    incident_id,
                    now,
                    actor,
                    "action_item_added",
                    f"action item {item.item_id} ({category.value}): {title}"
                    + (f"; owner {owner}" if owner else "")
                    + (f"; due {due.isoformat()}" if due else ""),
                    {"action_item": item.item_id, "category": category.value},
                )
            )
        return item

    def actions(
        self, *, incident_id: int | None = None, overdue: bool = False, limit: int = 500
    ) -> list[ActionItem]:
        with self.instance.state.unit_of_work(read_only=True) as tx:
            if incident_id is not None:
                tx.get_incident(incident_id)
            return LearningRepository(tx.connection).actions(
                incident_id=incident_id, overdue_at=self._now() if overdue else None, limit=limit
            )

    def update_action(self, item_id: int, change: ActionChange, *, actor: str) -> ActionItem:
        if change.empty:
            raise InvalidInput(
                [Problem(None, None, "nothing to change: give status, owner, due or note")]
            )
        now = self._now()
        with self.instance.acting() as tx:
            repository = LearningRepository(tx.connection)
            item = repository.get_action(item_id, for_update=True)
            made = changes_made(item, change)
            if not made:
                return item
            updated = replace(
                item,
                status=change.status or item.status,
                owner=change.owner if change.owner is not None else item.owner,
                due=change.due or item.due,
                note=change.note if change.note is not None else item.note,
                updated_at=now,
            )
            repository.save_action(updated)
            what = "; ".join(f"{name} {old} → {new}" for name, (old, new) in made.items())
            tx.append_timeline(
                TimelineEntry(
                    item.incident_id,
                    now,
                    actor,
                    "action_item_updated",
                    f"action item {item_id} ({item.title}): {what}",
                    {"action_item": item_id, **{name: new for name, (_, new) in made.items()}},
                )
            )
        return updated

    def done(self, item_id: int, *, actor: str) -> ActionItem:
        return self.update_action(item_id, ActionChange(status=ActionStatus.DONE), actor=actor)

    # ------------------------------------------------------------ review

    def review_facts(self, tx: StateTx, incident_id: int) -> ReviewFacts:
        incident = tx.get_incident(incident_id)
        if incident.state not in _REVIEWABLE:
            raise IllegalTransition(
                f"incident {incident_id} is {incident.state}: a review is drafted once it is "
                "resolved"
            )
        window = timedelta(seconds=self.instance.config.triage.change_window_s)
        detected = incident.detected_at
        recent = tx.list_changes(
            feature=incident.feature, since=detected - window, until=detected, limit=1
        )
        prompts = [
            c
            for c in tx.list_changes(feature=incident.feature, until=detected, limit=500)
            if c.kind is ChangeKind.PROMPT
        ]
        return ReviewFacts(
            incident=incident,
            timeline=tx.timeline(incident_id),
            alerts=tx.alerts(incident_id=incident_id),
            suspected_change=recent[0] if recent else None,
            prompt_changes=prompts,
            actions=LearningRepository(tx.connection).actions(incident_id=incident_id),
            change_window=window,
            generated_at=self._now(),
        )

    def _investigation(self, tx: StateTx, incident_id: int) -> tuple[Investigation | None, str]:
        """The incident's investigation, or None and why: it must never fail the draft."""
        try:
            return investigator_for(self.instance).investigate(tx, incident_id, self._now()), ""
        except Exception as error:  # investigation is best effort here: the draft says so
            log.warning("review of incident %s: investigation failed", incident_id, exc_info=True)
            return None, f"the investigation failed: {type(error).__name__}"

    def _signals(
        self, incident: Incident, alerts: list[Alert], onset: datetime | None
    ) -> tuple[list[SignalSeries], str]:
        """Each alerting signal (and segment) per minute, from an hour before the onset to
        30 minutes after the resolution; empty, and why, when there is nothing to plot."""
        if onset is None:
            return [], "no onset: the incident has no alert"
        end = incident.time_of(IncidentState.RESOLVED) or self._now()
        start, stop = plot_range(min(onset, incident.detected_at), end, PLOT_BUCKET_S)
        eval_pass = self.instance.config.detection.eval_pass_threshold
        reader = TelemetryReader(self.instance.telemetry)
        seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
        found: list[SignalSeries] = []
        try:
            for alert in sorted(alerts, key=lambda a: a.fired_at):
                key = (alert.signal, tuple(sorted(alert.segment.items())))
                if key in seen or len(found) >= MAX_SIGNALS:
                    continue
                seen.add(key)
                signal = predicate(alert.signal, feature=incident.feature, eval_pass=eval_pass)
                scope = Scope(incident.feature, signal, dict(alert.segment))
                values: list[float | None]
                if signal.kind == "rate":
                    hits, calls = reader.rate_series(scope, start, stop, PLOT_BUCKET_S)
                    values = [h / n if n else None for h, n in zip(hits, calls, strict=True)]
                else:
                    values = list(reader.metric_series(scope, start, stop, PLOT_BUCKET_S))
                if any(v is not None for v in values):
                    found.append(
                        SignalSeries(
                            alert.signal, signal.kind, start, PLOT_BUCKET_S, values, alert.segment
                        )
                    )
        except Exception as error:  # the plot is best effort: the draft says why it is missing
            log.warning("review of incident %s: signal plot failed", incident.incident_id,
                        exc_info=True)  # fmt: skip
            return [], f"reading the signal failed: {type(error).__name__}"
        if not found:
            return [], "no calls of the feature are in fireline's telemetry around the incident"
        return found, ""

    def _retrieval_monitoring(self, tx: StateTx, feature: str) -> list[str]:
        """Grounding/index-related alerts and scanner hits on the feature, one line each."""
        found: list[str] = []
        alerts = [
            a
            for a in tx.alerts()
            if a.feature == feature
            and (_RETRIEVAL.search(a.signal) or _RETRIEVAL.search(a.detector))
        ]
        by_signal: dict[str, int] = {}
        for alert in alerts:
            name = f"{alert.detector} on {alert.signal}"
            by_signal[name] = by_signal.get(name, 0) + 1
        found.extend(f"{n} alert(s) from {name}" for name, n in sorted(by_signal.items()))
        try:
            tables = self.instance.telemetry.query(
                "SELECT count(*) FROM duckdb_tables() WHERE table_name = $name",
                {"name": "scan_hits"},
            )
            if tables and tables[0][0]:
                rows = self.instance.telemetry.query(
                    "SELECT scanner, count(DISTINCT call_id) FROM scan_hits "
                    "WHERE feature = $feature AND list_contains($scanners, scanner) "
                    "GROUP BY scanner ORDER BY scanner",
                    {"feature": feature, "scanners": list(RETRIEVAL_SCANNERS)},
                )
                found.extend(f"the {s} scanner flagged {n} call(s)" for s, n in rows)
        except Exception:  # scanner hits are best effort: alerts above still count
            log.warning("review: reading scanner hits of %s failed", feature, exc_info=True)
        return found

    def _investigated_facts(self, tx: StateTx, facts: ReviewFacts) -> ReviewFacts:
        """`facts` with the investigation, the signal plot's series and retrieval monitoring."""
        incident_id = facts.incident.incident_id
        assert incident_id is not None
        found, problem = self._investigation(tx, incident_id)
        facts = replace(facts, investigation=found, investigation_problem=problem or "–")
        alerts = list(facts.alerts)
        onset: datetime | None
        if found is not None and found.onset.method == "change_point":
            onset = found.onset.at
        elif alerts:
            first = min(alerts, key=lambda a: a.fired_at)
            onset = onset_of(first.evidence, first.window_start)
        else:
            onset = None
        signals, why = self._signals(facts.incident, alerts, onset)
        return replace(
            facts,
            signals=signals,
            signals_problem=why or "–",
            retrieval_monitoring=self._retrieval_monitoring(tx, facts.incident.feature),
        )

    def review_draft(self, incident_id: int) -> ReviewFacts:
        """Everything the review draft of a resolved (or reviewed) incident is made from,
        its investigation included (which may fail without failing the draft)."""
        with self.instance.state.unit_of_work(read_only=True) as tx:
            return self._investigated_facts(tx, self.review_facts(tx, incident_id))

    def review(self, incident_id: int, *, html: bool = False) -> str:
        """The review draft of a resolved (or reviewed) incident, as Markdown or HTML."""
        facts = self.review_draft(incident_id)
        return render_html(facts) if html else render_markdown(facts)

    def review_files(self, incident_id: int, *, plot_name: str) -> tuple[str, str | None]:
        """The Markdown draft referring to its signal plot as `plot_name`, and the plot's
        SVG (None, and no reference, when there is nothing to plot)."""
        facts = self.review_draft(incident_id)
        svg = signal_plot(facts)
        return render_markdown(facts, plot_file=plot_name if svg else None), svg

    def accept_review(self, incident_id: int, *, actor: str, note: str | None = None) -> None:
        """The commander accepts the review: who and when go on the timeline, and the
        incident moves from resolved to reviewed (the only way it gets there)."""
        now = self._now()
        with self.instance.acting() as tx:
            incident = tx.get_incident(incident_id, for_update=True)
            if incident.state is not IncidentState.RESOLVED:
                raise IllegalTransition(
                    f"incident {incident_id} is {incident.state}: only a resolved incident's "
                    "review can be accepted"
                )
            tx.append_timeline(
                TimelineEntry(
                    incident_id,
                    now,
                    actor,
                    "review_accepted",
                    f"post-incident review accepted by {actor}" + (f": {note}" if note else ""),
                    {"accepted_by": actor, "accepted_at": now.isoformat()},
                )
            )
            tx.save_incident(incident.transition(IncidentState.REVIEWED, now), now=now)
            tx.append_timeline(
                TimelineEntry(
                    incident_id,
                    now,
                    actor,
                    "state",
                    f"{incident.state} → {IncidentState.REVIEWED}: review accepted",
                )
            )
