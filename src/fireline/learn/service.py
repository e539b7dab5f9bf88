"""Post-incident learning for the API and the command line: metrics, action items (each
change on the incident's timeline) and the review draft and its acceptance."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from fireline.domain.incident import IncidentState, TimelineEntry
from fireline.domain.telemetry import ChangeKind
from fireline.errors import IllegalTransition, InvalidInput, Problem
from fireline.learn.actions import (
    ActionCategory,
    ActionChange,
    ActionItem,
    ActionStatus,
    changes_made,
)
from fireline.learn.metrics import MetricsReport, Period, report
from fireline.learn.review import ReviewFacts, render_html, render_markdown
from fireline.learn.store import LearningRepository
from fireline.runtime import Fireline
from fireline.store.state import StateTx

_REVIEWABLE = (IncidentState.RESOLVED, IncidentState.REVIEWED)


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

    def review(self, incident_id: int, *, html: bool = False) -> str:
        """The review draft of a resolved (or reviewed) incident, as Markdown or HTML."""
        with self.instance.state.unit_of_work(read_only=True) as tx:
            facts = self.review_facts(tx, incident_id)
        return render_html(facts) if html else render_markdown(facts)

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
