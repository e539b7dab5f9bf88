"""Circuit breakers at work: each tick feeds every configured breaker the feature's closed
buckets, and a tripped breaker holds the feature's guard (open: no calls; half-open: a probe
share) until it closes again."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from fireline.contain.breaker import Breaker, Observation
from fireline.contain.config import BreakerSettings, Containment
from fireline.domain.guard import ContainmentLevel, Guard
from fireline.domain.incident import TimelineEntry
from fireline.store.state import StateTx

log = logging.getLogger(__name__)

BREAKER_ACTOR = "breaker"
_STATE = "contain/breakers/"


class BreakerService:
    """The breakers of the `containment.breakers` settings, kept in the state store."""

    def __init__(self, containment: Containment) -> None:
        self.containment = containment

    def tick(
        self, tx: StateTx, observations: Mapping[str, Sequence[Observation]], now: datetime
    ) -> None:
        """Feed each feature's new buckets to its breakers and set its guard accordingly."""
        for feature, settings in self.containment.breakers.items():
            found = observations.get(feature, ())
            if found:
                self._feature(tx, feature, settings, found, now)

    def _feature(
        self,
        tx: StateTx,
        feature: str,
        settings: Sequence[BreakerSettings],
        observations: Sequence[Observation],
        now: datetime,
    ) -> None:
        breakers = [item.build() for item in settings]
        saved = tx.load_state(_STATE + feature)
        if isinstance(saved, list) and len(saved) == len(breakers):  # else the config changed
            for breaker, state in zip(breakers, saved, strict=True):
                breaker.load_state(state)
        for observation in observations:
            for breaker in breakers:
                breaker.update(observation)
        tx.save_state(_STATE + feature, [b.to_state() for b in breakers], now=now)
        guard = tx.get_guard(feature)
        tripped = [(b, s) for b, s in zip(breakers, settings, strict=True) if b.tripped]
        if tripped:
            self._hold(tx, guard, tripped, now)
        elif guard.set_by == BREAKER_ACTOR and guard.level > ContainmentLevel.NONE:
            lifted = replace(
                guard,
                level=ContainmentLevel.NONE,
                reason="every circuit breaker closed",
                probe_share=0.0,
                updated_at=now,
            )
            tx.put_guard(lifted)
            _record(tx, feature, f"circuit breakers of {feature} closed: guard lifted", now)

    def _hold(
        self,
        tx: StateTx,
        guard: Guard,
        tripped: list[tuple[Breaker, BreakerSettings]],
        now: datetime,
    ) -> None:
        level = ContainmentLevel(max(s.level for _, s in tripped))
        share = min(b.allowed_share for b, _ in tripped)
        why = "; ".join(
            f"{s.metric} breaker {b.state.value} ({_measure(b)} against a budget of {s.budget:g})"
            for b, s in tripped
        )
        ours = guard.set_by == BREAKER_ACTOR
        if guard.level > level or (guard.level == level and not ours):
            return  # a stronger (or a person's, or an incident's) guard already holds
        if ours and guard.level == level and guard.probe_share == share:
            return
        tx.put_guard(
            replace(
                guard,
                level=level,
                reason=why,
                probe_share=share,
                set_by=BREAKER_ACTOR,
                updated_at=now,
            )
        )
        _record(tx, guard.feature, f"guard of {guard.feature} at level {int(level)}: {why}", now)


def _measure(breaker: Breaker) -> str:
    value = breaker.evidence.get("measure")
    return f"{value:.4g}" if isinstance(value, int | float) else "no measure"


def _record(tx: StateTx, feature: str, message: str, now: datetime) -> None:
    incident = tx.open_incident_for(feature)
    if incident is not None and incident.incident_id is not None:
        tx.append_timeline(
            TimelineEntry(incident.incident_id, now, BREAKER_ACTOR, "breaker", message)
        )
    else:
        log.warning("%s", message)
