"""Responding from the command line: roles, severity, notes, the checklist, the audit log."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from fireline.domain.incident import Incident, IncidentType
from fireline.domain.severity import Severity
from fireline.runtime import Fireline
from fireline.settings import Settings
from fireline.store.tables import timeline
from tests.conftest import T0
from tests.e2e.test_cli import fireline


def an_incident(data: Path) -> int:
    app = Fireline(Settings(data_dir=data))
    with app.state.unit_of_work() as tx:
        found = tx.add_incident(
            Incident.detected(
                feature="bot",
                type=IncidentType.SAFETY,
                severity=Severity.P2,
                title="prompt leak",
                at=T0,
            ),
            now=T0,
        )
    app.close()
    assert found.incident_id is not None
    return found.incident_id


def test_a_responder_works_an_incident_and_the_audit_log_stays_intact(tmp_path: Path) -> None:
    data = tmp_path / "data"
    number = str(an_incident(data))

    steps = [
        fireline("assign", number, "commander", "ana", "--actor", "ana", data_dir=data),
        fireline("severity", number, "P1", "--reason", "customers saw it", data_dir=data),
        fireline("note", number, "canary found in 3 answers", data_dir=data),
        fireline("checklist", number, "--done", "bound", data_dir=data),
        fireline("audit", "verify", data_dir=data),
    ]

    assert [s.returncode for s in steps] == [0] * 5, [s.stderr for s in steps]
    assert "ana is commander" in steps[0].stdout
    assert "P1 (high)" in steps[1].stdout
    assert "OVERDUE" in steps[3].stdout  # detected long ago: the first hour is over
    assert "audit log intact: 4 entries chained" in steps[4].stdout


def test_audit_verify_fails_loudly_when_an_entry_was_edited(tmp_path: Path) -> None:
    data = tmp_path / "data"
    number = str(an_incident(data))
    fireline("note", number, "first", data_dir=data)
    fireline("note", number, "second", data_dir=data)
    engine = sa.create_engine(f"sqlite:///{data / 'state.db'}")
    with engine.begin() as db:
        db.execute(timeline.update().where(timeline.c.message == "first").values(message="1st"))
    engine.dispose()

    checked = fireline("audit", "verify", data_dir=data)

    assert checked.returncode != 0
    assert "BROKEN" in checked.stderr
    assert "edited" in checked.stderr
