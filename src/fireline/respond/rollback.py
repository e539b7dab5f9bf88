"""Rolling a feature back to its last known good version, and forward again, by pinning
versions in its guard's routing (the app reads them); decided from the change log and the
feature's incidents (healthy time is time without an open incident)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from fireline.contain.rollback import HealthWindow, RollbackRegistry, build_registry
from fireline.domain.guard import Guard
from fireline.domain.incident import IncidentState, TimelineEntry
from fireline.domain.telemetry import ChangeKind
from fireline.errors import InvalidInput, Problem
from fireline.store.state import StateTx

log = logging.getLogger(__name__)

#: `roll_back` or `roll_forward`: they take the same arguments.
PinMove = Callable[..., Guard]
#: The kinds of change a guard can pin.
PINNABLE = (ChangeKind.MODEL, ChangeKind.PROMPT, ChangeKind.INDEX)
_HISTORY = 10_000


def registry_for(
    tx: StateTx, feature: str, now: datetime, *, min_healthy_minutes: float
) -> RollbackRegistry:
    """The feature's version history: its changes, and healthy time between its incidents."""
    changes = [c for c in tx.list_changes(feature=feature, limit=_HISTORY) if c.feature]
    incidents = [i for i in tx.list_incidents(limit=_HISTORY) if i.feature == feature]
    unhealthy = sorted((i.detected_at, i.time_of(IncidentState.RESOLVED) or now) for i in incidents)
    start = min([c.time for c in changes] + [s for s, _ in unhealthy] + [now])
    windows: list[HealthWindow] = []
    cursor = start
    for begin, end in unhealthy:
        if begin > cursor:
            windows.append(HealthWindow(feature, cursor, begin, healthy=True))
        windows.append(HealthWindow(feature, begin, end, healthy=False))
        cursor = max(cursor, end)
    if now > cursor:
        windows.append(HealthWindow(feature, cursor, now, healthy=True))
    return build_registry(changes, windows, min_healthy_minutes=min_healthy_minutes, now=now)


def _kind(kind: str) -> ChangeKind:
    try:
        found = ChangeKind(kind)
    except ValueError:
        found = None
    if found not in PINNABLE:
        names = ", ".join(k.value for k in PINNABLE)
        raise InvalidInput([Problem(None, "kind", f"cannot pin {kind!r}: use one of {names}")])
    assert found is not None
    return found


def _record(tx: StateTx, guard: Guard, actor: str, message: str, now: datetime) -> None:
    """On the open incident's timeline if there is one, else in the log."""
    incident = tx.open_incident_for(guard.feature)
    if incident is not None and incident.incident_id is not None:
        tx.append_timeline(TimelineEntry(incident.incident_id, now, actor, "routing", message))
    else:
        log.warning("%s: %s", actor, message)


def roll_back(
    tx: StateTx,
    feature: str,
    kind: str,
    *,
    actor: str,
    reason: str,
    now: datetime,
    min_healthy_minutes: float = 30,
) -> Guard:
    """Pin the feature's last known good version of `kind` in its guard."""
    found = _kind(kind)
    registry = registry_for(tx, feature, now, min_healthy_minutes=min_healthy_minutes)
    target = registry.rollback_target(feature, found)
    if target is None:
        raise InvalidInput(
            [
                Problem(
                    None,
                    "kind",
                    f"no known good {found.value} of {feature} to roll back to (none live for "
                    f"{min_healthy_minutes:g} healthy minutes besides the current one)",
                )
            ]
        )
    guard = tx.get_guard(feature)
    pinned = replace(
        guard, routing={**guard.routing, found.value: target}, set_by=actor, updated_at=now
    )
    tx.put_guard(pinned)
    current = registry.current(feature, found)
    _record(
        tx, pinned, actor, f"{found.value} of {feature} rolled back from {current} to {target}: "
        f"{reason}", now,
    )  # fmt: skip
    return pinned


def roll_forward(
    tx: StateTx,
    feature: str,
    kind: str,
    *,
    actor: str,
    reason: str,
    now: datetime,
    min_healthy_minutes: float = 30,
) -> Guard:
    """Lift the pin of `kind`: the app goes back to the deployed version."""
    found = _kind(kind)
    guard = tx.get_guard(feature)
    pinned = guard.routing.get(found.value)
    if pinned is None:
        raise InvalidInput(
            [Problem(None, "kind", f"the {found.value} of {feature} is not pinned by a rollback")]
        )
    registry = registry_for(tx, feature, now, min_healthy_minutes=min_healthy_minutes)
    target = registry.roll_forward_target(feature, found, pinned=pinned) or "the deployed version"
    routing = {k: v for k, v in guard.routing.items() if k != found.value}
    lifted = replace(guard, routing=routing, set_by=actor, updated_at=now)
    tx.put_guard(lifted)
    _record(
        tx, lifted, actor, f"{found.value} of {feature} rolled forward from {pinned} to {target}: "
        f"{reason}", now,
    )  # fmt: skip
    return lifted


__all__ = ["PINNABLE", "PinMove", "registry_for", "roll_back", "roll_forward"]
