"""The public status summary in Statuspage's /api/v2/summary.json shape (pure functions).

Components are features: their status comes from their guard and open incidents. Incidents
appear only once a person has published an update for them, under the public title given
there: internal titles, alerts and timeline text never reach this summary.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from fireline.domain.guard import ContainmentLevel, Guard
from fireline.domain.incident import Incident, IncidentState
from fireline.domain.severity import Severity
from fireline.status.config import Component, PageSettings


class ComponentStatus(StrEnum):
    """A component's status on the page, from best to worst."""

    OPERATIONAL = "operational"
    DEGRADED_PERFORMANCE = "degraded_performance"
    PARTIAL_OUTAGE = "partial_outage"
    MAJOR_OUTAGE = "major_outage"

    @property
    def rank(self) -> int:
        return list(ComponentStatus).index(self)


class Impact(StrEnum):
    """An incident's impact, and the page's status indicator, from best to worst."""

    NONE = "none"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(Impact).index(self)


class PublicStatus(StrEnum):
    """Where a published incident stands, in Statuspage's words."""

    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class PublicUpdate:
    """What a person published about an incident; the only incident text the public sees."""

    incident_id: int
    status: PublicStatus
    body: str
    created_at: datetime
    author: str
    title: str | None = None
    update_id: int | None = None


_BY_LEVEL = {
    ContainmentLevel.NONE: ComponentStatus.OPERATIONAL,
    ContainmentLevel.WARN: ComponentStatus.DEGRADED_PERFORMANCE,
    ContainmentLevel.HUMAN_REVIEW: ComponentStatus.DEGRADED_PERFORMANCE,
    ContainmentLevel.FALLBACK: ComponentStatus.PARTIAL_OUTAGE,
    ContainmentLevel.FEATURE_DISABLED: ComponentStatus.MAJOR_OUTAGE,
    ContainmentLevel.FULL_SHUTDOWN: ComponentStatus.MAJOR_OUTAGE,
}
_BY_SEVERITY = {
    Severity.P0: ComponentStatus.MAJOR_OUTAGE,
    Severity.P1: ComponentStatus.PARTIAL_OUTAGE,
    Severity.P2: ComponentStatus.DEGRADED_PERFORMANCE,
    Severity.P3: ComponentStatus.DEGRADED_PERFORMANCE,
}
_IMPACT = {
    Severity.P0: Impact.CRITICAL,
    Severity.P1: Impact.MAJOR,
    Severity.P2: Impact.MINOR,
    Severity.P3: Impact.MINOR,
}
# The page indicator a component status alone implies, and Statuspage's words for each.
_INDICATOR = {
    ComponentStatus.OPERATIONAL: Impact.NONE,
    ComponentStatus.DEGRADED_PERFORMANCE: Impact.MINOR,
    ComponentStatus.PARTIAL_OUTAGE: Impact.MAJOR,
    ComponentStatus.MAJOR_OUTAGE: Impact.CRITICAL,
}
_DESCRIPTION = {
    Impact.NONE: "All Systems Operational",
    Impact.MINOR: "Minor Service Outage",
    Impact.MAJOR: "Partial System Outage",
    Impact.CRITICAL: "Major Service Outage",
}
_S = IncidentState
_PUBLIC = {
    _S.DETECTED: PublicStatus.INVESTIGATING,
    _S.TRIAGED: PublicStatus.INVESTIGATING,
    _S.CONTAINED: PublicStatus.INVESTIGATING,
    _S.INVESTIGATING: PublicStatus.INVESTIGATING,
    _S.REMEDIATING: PublicStatus.IDENTIFIED,
    _S.RESTORING: PublicStatus.MONITORING,
    _S.RESOLVED: PublicStatus.RESOLVED,
    _S.REVIEWED: PublicStatus.RESOLVED,
}


def public_status(state: IncidentState) -> PublicStatus:
    """The Statuspage status a lifecycle state reads as (the default of a new update).

    >>> public_status(IncidentState.REMEDIATING).value
    'identified'
    """
    return _PUBLIC[state]


def impact_of(severity: Severity) -> Impact:
    """An incident's public impact from its severity."""
    return _IMPACT[severity]


def component_status(guard: Guard | None, incidents: Sequence[Incident]) -> ComponentStatus:
    """The worse of what the feature's guard and its open incidents imply.

    >>> component_status(Guard("bot", level=ContainmentLevel.FALLBACK), []).value
    'partial_outage'
    """
    found = [_BY_LEVEL[guard.level]] if guard is not None else []
    found += [_BY_SEVERITY[i.severity] for i in incidents if i.is_open]
    return max(found, key=lambda s: s.rank, default=ComponentStatus.OPERATIONAL)


def build_summary(
    *,
    page: PageSettings,
    components: Sequence[Component],
    incidents: Sequence[Incident],
    guards: Sequence[Guard],
    updates: Sequence[PublicUpdate],
    first_seen: Mapping[str, datetime],
    now: datetime,
) -> dict[str, Any]:
    """The summary.json document: page, status, components, unresolved published incidents."""
    by_guard = {g.feature: g for g in guards}
    open_incidents = [i for i in incidents if i.is_open]
    component_docs = {
        c.feature: _component(
            c,
            position,
            page,
            by_guard.get(c.feature),
            [i for i in open_incidents if i.feature == c.feature],
            first_seen.get(c.feature, now),
        )
        for position, c in enumerate(components, start=1)
    }
    incident_docs = [
        _incident(i, page, published, component_docs.get(i.feature))
        for i in sorted(open_incidents, key=lambda i: i.detected_at, reverse=True)
        if (published := [u for u in updates if u.incident_id == i.incident_id])
        and _latest(published).status is not PublicStatus.RESOLVED
    ]
    worst = max(
        [_INDICATOR[ComponentStatus(c["status"])] for c in component_docs.values()]
        + [Impact(doc["impact"]) for doc in incident_docs],
        key=lambda impact: impact.rank,
        default=Impact.NONE,
    )
    # The page changed last when a shown guard, an open incident or a published update did;
    # a component's made-up creation time (feature never seen with a time) is no change.
    changes = [_iso(g.updated_at) for g in guards if g.feature in component_docs and g.updated_at]
    changes += [_iso(t) for i in open_incidents for t in i.state_times.values()]
    changes += [doc["updated_at"] for doc in incident_docs]  # ISO UTC text sorts as time
    return {
        "page": {
            "id": page.id,
            "name": page.name,
            "url": page.url,
            "time_zone": page.time_zone,
            "updated_at": max(changes, default=_iso(now)),
        },
        "status": {"indicator": worst.value, "description": _DESCRIPTION[worst]},
        "components": list(component_docs.values()),
        "incidents": incident_docs,
        # fireline schedules no maintenance; the key is kept for Statuspage clients.
        "scheduled_maintenances": [],
    }


def _component(
    spec: Component,
    position: int,
    page: PageSettings,
    guard: Guard | None,
    incidents: Sequence[Incident],
    created_at: datetime,
) -> dict[str, Any]:
    changed = [t for i in incidents for t in i.state_times.values()]
    if guard is not None and guard.updated_at is not None:
        changed.append(guard.updated_at)
    return {
        "id": spec.feature,
        "name": spec.name or spec.feature,
        "status": component_status(guard, incidents).value,
        "created_at": _iso(created_at),
        "updated_at": _iso(max(changed, default=created_at)),
        "position": position,
        "description": spec.description,
        "showcase": False,
        "start_date": None,
        "group_id": None,
        "page_id": page.id,
        "group": False,
        "only_show_if_degraded": False,
    }


def _incident(
    incident: Incident,
    page: PageSettings,
    published: Sequence[PublicUpdate],
    component: dict[str, Any] | None,
) -> dict[str, Any]:
    ordered = sorted(published, key=lambda u: (u.created_at, u.update_id or 0), reverse=True)
    latest = ordered[0]
    titled = [u.title for u in ordered if u.title]
    incident_id = str(incident.incident_id)
    monitoring = [u.created_at for u in ordered if u.status is PublicStatus.MONITORING]
    return {
        "id": incident_id,
        # The public title a person gave; never the internal one, which may name details.
        "name": titled[0] if titled else f"Service disruption: {incident.feature}",
        "status": latest.status.value,
        "created_at": _iso(ordered[-1].created_at),
        "updated_at": _iso(latest.created_at),
        "monitoring_at": _iso(min(monitoring)) if monitoring else None,
        "resolved_at": None,
        "impact": impact_of(incident.severity).value,
        "shortlink": f"{page.url}#incident-{incident_id}",
        "started_at": _iso(incident.detected_at),
        "page_id": page.id,
        "incident_updates": [_update(u, incident_id) for u in ordered],
        "components": [component] if component is not None else [],
    }


def _update(update: PublicUpdate, incident_id: str) -> dict[str, Any]:
    at = _iso(update.created_at)
    return {
        "id": str(update.update_id),
        "status": update.status.value,
        "body": update.body,
        "incident_id": incident_id,
        "created_at": at,
        "updated_at": at,
        "display_at": at,
        "affected_components": None,
        "deliver_notifications": False,
        "custom_tweet": None,
        "tweet_id": None,
    }


def _latest(updates: Sequence[PublicUpdate]) -> PublicUpdate:
    return max(updates, key=lambda u: (u.created_at, u.update_id or 0))


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds")
