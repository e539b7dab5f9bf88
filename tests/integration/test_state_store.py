"""The state store behaves the same on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from fireline.domain.access import Role
from fireline.domain.alert import Alert
from fireline.domain.guard import ContainmentLevel, Guard
from fireline.domain.incident import Incident, IncidentState, IncidentType, TimelineEntry
from fireline.domain.severity import Severity
from fireline.errors import InvalidInput, NotFound
from fireline.store.state import MIGRATIONS, StateStore
from fireline.store.tables import metadata
from tests.conftest import T0


def newest_migration() -> str:
    """The revision of the last file in migrations/versions (they are numbered in order)."""
    return max(p.name.split("_")[0] for p in (MIGRATIONS / "versions").glob("[0-9]*_*.py"))


def an_incident(feature: str = "support-bot") -> Incident:
    return Incident.detected(
        feature=feature,
        type=IncidentType.AVAILABILITY,
        severity=Severity.P1,
        title="error rate up",
        at=T0,
    )


def an_alert(incident_id: int | None = None) -> Alert:
    return Alert(
        detector="error_rate",
        feature="support-bot",
        signal="error_rate",
        incident_type=IncidentType.AVAILABILITY,
        fired_at=T0,
        window_start=T0 - timedelta(minutes=5),
        window_end=T0,
        baseline_value=0.01,
        current_value=0.6,
        p_value=1e-30,
        evidence={"calls": 600, "errors": 360, "error_types": {"http_503": 300}},
        incident_id=incident_id,
    )


def test_migrations_create_exactly_the_tables_the_code_uses(state_store: StateStore) -> None:
    with state_store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []
    assert state_store.current_revision() == newest_migration()


def test_upgrading_twice_changes_nothing(state_store: StateStore) -> None:
    state_store.upgrade()
    assert state_store.current_revision() == newest_migration()


def test_an_incident_round_trips_with_its_lifecycle_times(state_store: StateStore) -> None:
    with state_store.unit_of_work() as tx:
        stored = tx.add_incident(an_incident(), now=T0)
        assert stored.incident_id is not None
        moved = stored.transition(IncidentState.TRIAGED, T0 + timedelta(seconds=5))
        moved = moved.transition(IncidentState.CONTAINED, T0 + timedelta(seconds=9))
        tx.save_incident(moved, now=T0 + timedelta(seconds=9))
    with state_store.unit_of_work() as tx:
        loaded = tx.get_incident(stored.incident_id)
    assert loaded == moved
    assert loaded.time_of(IncidentState.CONTAINED) == T0 + timedelta(seconds=9)
    assert loaded.detected_at.tzinfo is not None


def test_open_incidents_exclude_resolved_ones(state_store: StateStore) -> None:
    with state_store.unit_of_work() as tx:
        first = tx.add_incident(an_incident("a"), now=T0)
        second = tx.add_incident(an_incident("b"), now=T0)
        tx.save_incident(first.transition(IncidentState.RESOLVED, T0), now=T0)
    with state_store.unit_of_work() as tx:
        assert [i.incident_id for i in tx.list_incidents(open_only=True)] == [second.incident_id]
        assert [i.feature for i in tx.list_incidents()] == ["b", "a"]
        assert tx.open_incident_for("a") is None
        assert tx.open_incident_for("b") == second


def test_a_missing_incident_is_reported_as_not_found(state_store: StateStore) -> None:
    with state_store.unit_of_work() as tx, pytest.raises(NotFound, match="incident 999"):
        tx.get_incident(999)


def test_a_failed_unit_of_work_writes_nothing(state_store: StateStore) -> None:
    def crash_after_writing() -> None:
        with state_store.unit_of_work() as tx:
            tx.add_incident(an_incident(), now=T0)
            raise RuntimeError("crash in the middle")

    with pytest.raises(RuntimeError):
        crash_after_writing()
    with state_store.unit_of_work() as tx:
        assert tx.list_incidents() == []


def test_timeline_entries_come_back_in_the_order_they_were_written(
    state_store: StateStore,
) -> None:
    with state_store.unit_of_work() as tx:
        incident = tx.add_incident(an_incident(), now=T0)
        assert incident.incident_id is not None
        for kind in ("detected", "triaged", "guard_set"):
            tx.append_timeline(
                TimelineEntry(incident.incident_id, T0, "policy", kind, kind, {"n": 1})
            )
    with state_store.unit_of_work() as tx:
        entries = tx.timeline(incident.incident_id)
    assert [e.kind for e in entries] == ["detected", "triaged", "guard_set"]
    assert entries[0].data == {"n": 1}


def test_alerts_are_stored_with_evidence_and_resolved(state_store: StateStore) -> None:
    with state_store.unit_of_work() as tx:
        incident = tx.add_incident(an_incident(), now=T0)
        alert_id = tx.add_alert(an_alert(incident.incident_id))
    with state_store.unit_of_work() as tx:
        found = tx.open_alert("error_rate", "support-bot")
        assert found is not None
        assert found.alert_id == alert_id
        assert found.evidence["error_types"] == {"http_503": 300}
        tx.resolve_alert(alert_id, T0 + timedelta(minutes=30))
    with state_store.unit_of_work() as tx:
        assert tx.open_alert("error_rate", "support-bot") is None
        assert tx.alerts(incident_id=incident.incident_id)[0].resolved_at == T0 + timedelta(
            minutes=30
        )


def test_a_feature_without_a_guard_reads_as_normal_service(state_store: StateStore) -> None:
    with state_store.unit_of_work() as tx:
        guard = tx.get_guard("never-seen")
    assert guard == Guard.normal("never-seen")
    assert guard.enabled


def test_setting_a_guard_twice_keeps_one_row_with_the_latest_values(
    state_store: StateStore,
) -> None:
    with state_store.unit_of_work() as tx:
        incident = tx.add_incident(an_incident(), now=T0)
        tx.put_guard(
            Guard(
                "support-bot",
                ContainmentLevel.FEATURE_DISABLED,
                "outage",
                incident.incident_id,
                0.05,
                "policy",
                T0,
            )
        )
    with state_store.unit_of_work() as tx:
        tx.put_guard(Guard("support-bot", ContainmentLevel.NONE, updated_at=T0))
    with state_store.unit_of_work() as tx:
        assert tx.get_guard("support-bot").level is ContainmentLevel.NONE
        assert len(tx.list_guards()) == 1
        assert tx.list_guards(active_only=True) == []


def test_engine_state_is_saved_and_replaced(state_store: StateStore) -> None:
    with state_store.unit_of_work() as tx:
        tx.save_state("detect/detector/a", {"x": [1, 2]}, now=T0)
        tx.save_state("detect/detector/a", {"x": [3]}, now=T0)
        tx.save_state("detect/detector/b_%", {"y": 1}, now=T0)
        tx.save_state("detect/watermark", "2026-03-02T09:00:00+00:00", now=T0)
    with state_store.unit_of_work() as tx:
        assert tx.load_state("detect/detector/a") == {"x": [3]}
        assert tx.load_state("missing") is None
        assert set(tx.load_states("detect/detector/")) == {
            "detect/detector/a",
            "detect/detector/b_%",
        }


def test_times_in_other_zones_come_back_as_the_same_instant_in_utc(
    state_store: StateStore,
) -> None:
    paris = T0.astimezone(timezone(timedelta(hours=2)))
    with state_store.unit_of_work() as tx:
        stored = tx.add_incident(
            Incident.detected(
                feature="f", type=IncidentType.QUALITY, severity=Severity.P3, title="t", at=paris
            ),
            now=paris,
        )
        assert stored.incident_id is not None
    with state_store.unit_of_work() as tx:
        loaded = tx.get_incident(stored.incident_id)
    assert loaded.detected_at == T0
    assert loaded.detected_at.utcoffset() == timedelta(0)


def test_naive_times_are_refused_rather_than_guessed(state_store: StateStore) -> None:
    naive = Incident.detected(
        feature="f",
        type=IncidentType.QUALITY,
        severity=Severity.P3,
        title="t",
        at=T0.replace(tzinfo=None),
    )
    with (
        pytest.raises(sa.exc.StatementError, match="naive datetime"),
        state_store.unit_of_work() as tx,
    ):
        tx.add_incident(naive, now=T0)


def test_a_token_name_can_be_used_once_and_revoked_once(state_store: StateStore) -> None:
    with state_store.unit_of_work() as tx:
        tx.add_token("ci", Role.APP, "a" * 64, now=T0)
    with pytest.raises(InvalidInput, match="already exists"), state_store.unit_of_work() as tx:
        tx.add_token("ci", Role.ADMIN, "b" * 64, now=T0)
    with state_store.unit_of_work() as tx:
        found = tx.token_by_hash("a" * 64)
        assert found is not None
        assert found.role is Role.APP
        assert found.active
        tx.revoke_token("ci", now=T0)
    with state_store.unit_of_work() as tx:
        revoked = tx.token_by_hash("a" * 64)
        assert revoked is not None
        assert not revoked.active
    with pytest.raises(NotFound, match="no active token"), state_store.unit_of_work() as tx:
        tx.revoke_token("ci", now=T0)


def test_changes_are_stored_once_and_listed_newest_first_with_global_ones(
    state_store: StateStore,
) -> None:
    from fireline.domain.telemetry import Change, ChangeKind

    prompt = Change("d1", T0, ChangeKind.PROMPT, "v2", feature="bot", previous_version="v1")
    model = Change("d2", T0 + timedelta(hours=1), ChangeKind.MODEL, "m-2026")
    other = Change("d3", T0 + timedelta(hours=2), ChangeKind.INDEX, "idx-9", feature="search")
    with state_store.unit_of_work() as tx:
        assert len(tx.add_changes([prompt, model])) == 2
    with state_store.unit_of_work() as tx:
        assert tx.add_changes([prompt, other]) == [other]
    with state_store.unit_of_work() as tx:
        assert [c.change_id for c in tx.list_changes()] == ["d3", "d2", "d1"]
        assert [c.change_id for c in tx.list_changes(feature="bot")] == ["d2", "d1"]
        assert tx.list_changes(since=T0 + timedelta(minutes=30), until=T0 + timedelta(hours=2)) == [
            model
        ]
