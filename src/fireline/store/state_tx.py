"""Reads and writes of the state store inside one transaction, and row mapping."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from fireline.domain.access import Role
from fireline.domain.alert import Alert
from fireline.domain.audit import GENESIS, ChainedEntry, entry_hash
from fireline.domain.guard import ContainmentLevel, Guard
from fireline.domain.incident import Incident, IncidentState, IncidentType, TimelineEntry
from fireline.domain.roles import ResponseRole, RoleAssignment
from fireline.domain.severity import Severity
from fireline.domain.telemetry import Change, ChangeKind
from fireline.errors import InvalidInput, NotFound, Problem
from fireline.store.tables import (
    alerts,
    api_tokens,
    audit_head,
    changes,
    engine_state,
    guards,
    incident_roles,
    incidents,
    timeline,
)

_CLOSED = (IncidentState.RESOLVED.value, IncidentState.REVIEWED.value)


class StateTx:
    """Reads and writes of the state store inside one transaction."""

    def __init__(self, connection: Connection) -> None:
        self._db = connection

    @property
    def connection(self) -> Connection:
        """The transaction's connection, for the repositories of other areas (on-call,
        notifications, status) that keep their own tables."""
        return self._db

    # ------------------------------------------------------------ incidents

    def add_incident(self, incident: Incident, *, now: datetime) -> Incident:
        values = _incident_values(incident, now)
        new_id = self._db.execute(
            incidents.insert().values(**values).returning(incidents.c.id)
        ).scalar_one()
        return _replace_id(incident, int(new_id))

    def save_incident(self, incident: Incident, *, now: datetime) -> None:
        if incident.incident_id is None:
            raise ValueError("save_incident needs an incident that was added")
        result = self._db.execute(
            incidents.update()
            .where(incidents.c.id == incident.incident_id)
            .values(**_incident_values(incident, now))
        )
        if result.rowcount == 0:
            raise NotFound(f"incident {incident.incident_id} does not exist")

    def get_incident(self, incident_id: int, *, for_update: bool = False) -> Incident:
        query = sa.select(incidents).where(incidents.c.id == incident_id)
        if for_update:
            query = query.with_for_update()
        row = self._db.execute(query).mappings().first()
        if row is None:
            raise NotFound(f"incident {incident_id} does not exist")
        return incident_from(row)

    def list_incidents(
        self,
        *,
        open_only: bool = False,
        feature: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Incident]:
        """Incidents newest first, a page of `limit` after skipping `offset`."""
        query = sa.select(incidents).order_by(incidents.c.id.desc()).limit(limit).offset(offset)
        if open_only:
            query = query.where(incidents.c.state.not_in(_CLOSED))
        if feature is not None:
            query = query.where(incidents.c.feature == feature)
        return [incident_from(row) for row in self._db.execute(query).mappings()]

    def open_incident_for(self, feature: str) -> Incident | None:
        """The feature's newest open incident, locked until the transaction ends."""
        query = (
            sa.select(incidents)
            .where(incidents.c.feature == feature, incidents.c.state.not_in(_CLOSED))
            .order_by(incidents.c.id.desc())
            .limit(1)
            .with_for_update()
        )
        row = self._db.execute(query).mappings().first()
        return None if row is None else incident_from(row)

    # ------------------------------------------------------------ timeline

    def append_timeline(self, entry: TimelineEntry) -> None:
        """Append an entry to the audit chain: it is hashed with the head's hash, and the
        head (locked until the transaction ends, so writers take turns) moves to it."""
        head = self._db.execute(
            sa.select(audit_head.c.hash).where(audit_head.c.id == 1).with_for_update()
        ).first()
        previous = (head[0] if head is not None else None) or GENESIS
        data = json.loads(json.dumps(dict(entry.data), default=str))  # as the store returns it
        digest = entry_hash(
            previous,
            incident_id=entry.incident_id,
            at=entry.at,
            actor=entry.actor,
            kind=entry.kind,
            message=entry.message,
            data=data,
        )
        self._db.execute(
            timeline.insert().values(
                incident_id=entry.incident_id,
                at=entry.at,
                actor=entry.actor,
                kind=entry.kind,
                message=entry.message,
                data=data,
                previous_hash=previous,
                hash=digest,
            )
        )
        if head is None:
            self._db.execute(audit_head.insert().values(id=1, hash=digest))
        else:
            self._db.execute(audit_head.update().where(audit_head.c.id == 1).values(hash=digest))

    def audit_chain(self) -> tuple[list[ChainedEntry], str | None]:
        """Every timeline entry in storage order with its hashes, and the chain's head."""
        rows = self._db.execute(sa.select(timeline).order_by(timeline.c.id)).mappings()
        entries = [
            ChainedEntry(
                entry_id=row["id"],
                incident_id=row["incident_id"],
                at=row["at"],
                actor=row["actor"],
                kind=row["kind"],
                message=row["message"],
                data=row["data"],
                previous_hash=row["previous_hash"],
                hash=row["hash"],
            )
            for row in rows
        ]
        head = self._db.execute(sa.select(audit_head.c.hash).where(audit_head.c.id == 1)).first()
        return entries, None if head is None else head[0]

    # ------------------------------------------------------------ roles

    def roles(self, incident_id: int, *, current_only: bool = True) -> list[RoleAssignment]:
        """Who holds (or held) each role of an incident, in order of assignment."""
        query = (
            sa.select(incident_roles)
            .where(incident_roles.c.incident_id == incident_id)
            .order_by(incident_roles.c.id)
        )
        if current_only:
            query = query.where(incident_roles.c.ended_at.is_(None))
        return [
            RoleAssignment(
                incident_id=row["incident_id"],
                role=ResponseRole(row["role"]),
                person=row["person"],
                assigned_at=row["assigned_at"],
                assigned_by=row["assigned_by"],
                ended_at=row["ended_at"],
            )
            for row in self._db.execute(query).mappings()
        ]

    def assign_role(self, assignment: RoleAssignment) -> RoleAssignment | None:
        """Give a role to a person, ending its current holder's turn; return that holder."""
        current = (
            self._db.execute(
                sa.select(incident_roles)
                .where(
                    incident_roles.c.incident_id == assignment.incident_id,
                    incident_roles.c.role == assignment.role.value,
                    incident_roles.c.ended_at.is_(None),
                )
                .with_for_update()
            )
            .mappings()
            .first()
        )
        previous = None
        if current is not None:
            self._db.execute(
                incident_roles.update()
                .where(incident_roles.c.id == current["id"])
                .values(ended_at=assignment.assigned_at)
            )
            previous = RoleAssignment(
                incident_id=current["incident_id"],
                role=ResponseRole(current["role"]),
                person=current["person"],
                assigned_at=current["assigned_at"],
                assigned_by=current["assigned_by"],
                ended_at=assignment.assigned_at,
            )
        self._db.execute(
            incident_roles.insert().values(
                incident_id=assignment.incident_id,
                role=assignment.role.value,
                person=assignment.person,
                assigned_at=assignment.assigned_at,
                assigned_by=assignment.assigned_by,
            )
        )
        return previous

    def timeline(self, incident_id: int) -> list[TimelineEntry]:
        query = (
            sa.select(timeline).where(timeline.c.incident_id == incident_id).order_by(timeline.c.id)
        )
        return [
            TimelineEntry(
                incident_id=row["incident_id"],
                at=row["at"],
                actor=row["actor"],
                kind=row["kind"],
                message=row["message"],
                data=row["data"],
                entry_id=row["id"],
            )
            for row in self._db.execute(query).mappings()
        ]

    # ------------------------------------------------------------ alerts

    def add_alert(self, alert: Alert) -> int:
        new_id = self._db.execute(
            alerts.insert()
            .values(
                incident_id=alert.incident_id,
                detector=alert.detector,
                feature=alert.feature,
                signal=alert.signal,
                incident_type=alert.incident_type.value,
                segment=dict(alert.segment),
                fired_at=alert.fired_at,
                window_start=alert.window_start,
                window_end=alert.window_end,
                baseline_value=alert.baseline_value,
                current_value=alert.current_value,
                p_value=alert.p_value,
                evidence=dict(alert.evidence),
                resolved_at=alert.resolved_at,
            )
            .returning(alerts.c.id)
        ).scalar_one()
        return int(new_id)

    def alerts(self, *, incident_id: int | None = None, open_only: bool = False) -> list[Alert]:
        query = sa.select(alerts).order_by(alerts.c.id)
        if incident_id is not None:
            query = query.where(alerts.c.incident_id == incident_id)
        if open_only:
            query = query.where(alerts.c.resolved_at.is_(None))
        return [_alert_from(row) for row in self._db.execute(query).mappings()]

    def open_alert(
        self,
        detector: str,
        feature: str,
        signal: str | None = None,
        segment: Mapping[str, str] | None = None,
    ) -> Alert | None:
        """The latest unresolved alert of a detector on a feature (and signal and segment)."""
        query = (
            sa.select(alerts)
            .where(alerts.c.detector == detector, alerts.c.feature == feature)
            .where(alerts.c.resolved_at.is_(None))
            .order_by(alerts.c.id.desc())
        )
        if signal is not None:
            query = query.where(alerts.c.signal == signal)
        for row in self._db.execute(query).mappings():
            # JSON equality differs between databases; segments are few, compare here.
            if segment is None or dict(row["segment"] or {}) == dict(segment):
                return _alert_from(row)
        return None

    def open_alerts(self, feature: str) -> list[Alert]:
        """Every unresolved alert of a feature, oldest first."""
        query = (
            sa.select(alerts)
            .where(alerts.c.feature == feature, alerts.c.resolved_at.is_(None))
            .order_by(alerts.c.id)
        )
        return [_alert_from(row) for row in self._db.execute(query).mappings()]

    def resolve_alert(self, alert_id: int, at: datetime) -> None:
        self._db.execute(alerts.update().where(alerts.c.id == alert_id).values(resolved_at=at))

    # ------------------------------------------------------------ guards

    def get_guard(self, feature: str) -> Guard:
        row = (
            self._db.execute(sa.select(guards).where(guards.c.feature == feature))
            .mappings()
            .first()
        )
        return Guard.normal(feature) if row is None else _guard_from(row)

    def list_guards(self, *, active_only: bool = False) -> list[Guard]:
        query = sa.select(guards).order_by(guards.c.feature)
        if active_only:
            query = query.where(guards.c.level > 0)
        return [_guard_from(row) for row in self._db.execute(query).mappings()]

    def put_guard(self, guard: Guard) -> None:
        values = {
            "level": int(guard.level),
            "reason": guard.reason,
            "incident_id": guard.incident_id,
            "probe_share": guard.probe_share,
            "set_by": guard.set_by,
            "updated_at": guard.updated_at,
            "routing": dict(guard.routing) or None,
            "throttle": guard.throttle,
            "segment": dict(guard.segment) or None,
            "filters": guard.filters if guard.block_input or guard.block_output else None,
            "restoration": dict(guard.restoration) if guard.restoration else None,
        }
        updated = self._db.execute(
            guards.update().where(guards.c.feature == guard.feature).values(**values)
        )
        if updated.rowcount == 0:
            self._db.execute(guards.insert().values(feature=guard.feature, **values))

    # ------------------------------------------------------------ changes

    def add_changes(self, items: list[Change]) -> list[Change]:
        """Store the changes not stored yet (by id); return those that were new."""
        if not items:
            return []
        ids = [item.change_id for item in items]
        known = set(
            self._db.execute(sa.select(changes.c.id).where(changes.c.id.in_(ids))).scalars()
        )
        new = list(
            {
                item.change_id: item for item in reversed(items) if item.change_id not in known
            }.values()
        )
        if new:
            self._db.execute(
                changes.insert(),
                [
                    {
                        "id": c.change_id,
                        "time": c.time,
                        "kind": c.kind.value,
                        "version": c.version,
                        "feature": c.feature,
                        "previous_version": c.previous_version,
                        "author": c.author,
                        "description": c.description,
                    }
                    for c in new
                ],
            )
        return new

    def list_changes(
        self,
        *,
        feature: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[Change]:
        """Changes newest first; with `feature`, that feature's and the global ones."""
        query = sa.select(changes).order_by(changes.c.time.desc(), changes.c.id).limit(limit)
        if feature is not None:
            query = query.where(sa.or_(changes.c.feature == feature, changes.c.feature.is_(None)))
        if since is not None:
            query = query.where(changes.c.time >= since)
        if until is not None:
            query = query.where(changes.c.time < until)
        return [
            Change(
                change_id=row["id"],
                time=row["time"],
                kind=ChangeKind(row["kind"]),
                version=row["version"],
                feature=row["feature"],
                previous_version=row["previous_version"],
                author=row["author"],
                description=row["description"],
            )
            for row in self._db.execute(query).mappings()
        ]

    # ------------------------------------------------------------ API tokens

    def add_token(self, name: str, role: Role, token_sha256: str, *, now: datetime) -> None:
        taken = self._db.execute(
            sa.select(api_tokens.c.id).where(api_tokens.c.name == name)
        ).first()
        if taken is not None:
            raise InvalidInput([Problem(None, "name", f"a token named '{name}' already exists")])
        self._db.execute(
            api_tokens.insert().values(
                name=name, role=role.value, token_sha256=token_sha256, created_at=now
            )
        )

    def token_by_hash(self, token_sha256: str) -> ApiToken | None:
        row = (
            self._db.execute(sa.select(api_tokens).where(api_tokens.c.token_sha256 == token_sha256))
            .mappings()
            .first()
        )
        return None if row is None else _token_from(row)

    def list_tokens(self) -> list[ApiToken]:
        query = sa.select(api_tokens).order_by(api_tokens.c.name)
        return [_token_from(row) for row in self._db.execute(query).mappings()]

    def revoke_token(self, name: str, *, now: datetime) -> None:
        result = self._db.execute(
            api_tokens.update()
            .where(api_tokens.c.name == name, api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        if result.rowcount == 0:
            raise NotFound(f"no active token named '{name}'")

    # ------------------------------------------------------------ engine state

    def load_state(self, name: str) -> Any:
        row = self._db.execute(
            sa.select(engine_state.c.value).where(engine_state.c.name == name)
        ).first()
        return None if row is None else row[0]

    def load_states(self, prefix: str) -> dict[str, Any]:
        query = sa.select(engine_state.c.name, engine_state.c.value).where(
            engine_state.c.name.startswith(prefix, autoescape=True)
        )
        return {str(name): value for name, value in self._db.execute(query)}

    def delete_state(self, name: str) -> None:
        self._db.execute(engine_state.delete().where(engine_state.c.name == name))

    def save_state(self, name: str, value: Any, *, now: datetime) -> None:
        updated = self._db.execute(
            engine_state.update()
            .where(engine_state.c.name == name)
            .values(value=value, updated_at=now)
        )
        if updated.rowcount == 0:
            self._db.execute(engine_state.insert().values(name=name, value=value, updated_at=now))


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A named API token as stored: its role and hash, never the token itself."""

    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _incident_values(incident: Incident, now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {
        "feature": incident.feature,
        "type": incident.type.value,
        "severity": incident.severity.value,
        "state": incident.state.value,
        "title": incident.title,
        "fingerprint": incident.fingerprint,
        "nist": incident.nist,
        "acknowledged_at": incident.acknowledged_at,
        "updated_at": now,
    }
    for state in IncidentState:
        values[f"{state.value}_at"] = incident.state_times.get(state)
    return values


def incident_from(row: RowMapping) -> Incident:
    """An incident from its row of the `incidents` table."""
    times = {
        state: row[f"{state.value}_at"]
        for state in IncidentState
        if row[f"{state.value}_at"] is not None
    }
    return Incident(
        feature=row["feature"],
        type=IncidentType(row["type"]),
        severity=Severity(row["severity"]),
        title=row["title"],
        state=IncidentState(row["state"]),
        state_times=times,
        incident_id=row["id"],
        fingerprint=row["fingerprint"],
        nist=row["nist"],
        acknowledged_at=row["acknowledged_at"],
    )


def _replace_id(incident: Incident, incident_id: int) -> Incident:
    return replace(incident, incident_id=incident_id)


def _alert_from(row: RowMapping) -> Alert:
    segment: Mapping[str, str] = row["segment"]
    return Alert(
        detector=row["detector"],
        feature=row["feature"],
        signal=row["signal"],
        incident_type=IncidentType(row["incident_type"]),
        fired_at=row["fired_at"],
        window_start=row["window_start"],
        window_end=row["window_end"],
        baseline_value=row["baseline_value"],
        current_value=row["current_value"],
        p_value=row["p_value"],
        evidence=row["evidence"],
        segment=segment,
        alert_id=row["id"],
        incident_id=row["incident_id"],
        resolved_at=row["resolved_at"],
    )


def _guard_from(row: RowMapping) -> Guard:
    return Guard(
        feature=row["feature"],
        level=ContainmentLevel(row["level"]),
        reason=row["reason"],
        incident_id=row["incident_id"],
        probe_share=row["probe_share"],
        set_by=row["set_by"],
        updated_at=row["updated_at"],
        routing=row["routing"] or {},
        throttle=row["throttle"],
        segment=row["segment"] or {},
        block_input=tuple((row["filters"] or {}).get("input", ())),
        block_output=tuple((row["filters"] or {}).get("output", ())),
        restoration=row["restoration"],
    )


def _token_from(row: RowMapping) -> ApiToken:
    return ApiToken(
        name=row["name"],
        role=Role(row["role"]),
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )
