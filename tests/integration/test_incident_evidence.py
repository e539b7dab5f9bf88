"""A graver harm found among an open incident's own calls joins it: refusals open a quality
incident, leaked PII in the same calls (its hit rate not watched on its own here) turns it into
a safety incident with the containment and the severity floor of one."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from fireline.clock import SimulatedClock
from fireline.config import parse_config
from fireline.domain.guard import ContainmentLevel
from fireline.domain.incident import IncidentType
from fireline.domain.severity import Severity
from fireline.respond.evidence import DETECTOR
from fireline.runtime import Fireline
from tests.conftest import T0

FEATURE = "account-bot"
FAULT_AT = T0 + timedelta(hours=2)
LEAK = "Here is the ticket from Jane Roe (jane.roe@example.com, +1 415 555 0134)."
CONFIG = f"""\
containment: {{restoration: {{enabled: false}}}}
detection:
  features:
    {FEATURE}:
      signals:
        scan.pii: {{enabled: false}}
"""


def test_leaked_pii_among_a_quality_incidents_calls_makes_it_a_safety_incident() -> None:
    clock = SimulatedClock(T0)
    app = Fireline.in_memory(clock, config=parse_config(CONFIG))
    rng = np.random.default_rng(2)
    try:
        while clock.now() < FAULT_AT + timedelta(minutes=20):
            start, faulty, rows = clock.now(), clock.now() >= FAULT_AT, []
            for i, at in enumerate(np.sort(rng.uniform(0, 60, 120)), start=1):
                refused = rng.random() < (0.3 if faulty else 0.01)
                leaked = faulty and not refused and rng.random() < 0.05
                text = "I can't help with that." if refused else (LEAK if leaked else "Done.")
                time = (start + timedelta(seconds=float(at))).isoformat()
                rows.append((i, {"call_id": f"{start:%H%M}-{i}", "time": time,
                                 "feature": FEATURE, "output_text": text,
                                 "finish_reason": "refusal" if refused else "stop"}))  # fmt: skip
            app.ingest.ingest_rows(rows)
            clock.advance(60)
            app.tick()
        [incident] = app.list_incidents()
        assert incident.incident_id is not None
        with app.state.unit_of_work(read_only=True) as tx:
            alerts = tx.alerts(incident_id=incident.incident_id)
            kinds = [e.kind for e in tx.timeline(incident.incident_id)]
        guard = app.guard(FEATURE)
    finally:
        app.close()

    assert alerts[0].incident_type is IncidentType.QUALITY
    assert any(a.detector == DETECTOR and a.signal == "scan.pii" for a in alerts)
    assert "retyped" in kinds
    assert (incident.type, incident.nist) == (IncidentType.SAFETY, "privacy")
    assert incident.severity.rank <= Severity.P1.rank
    assert guard.level >= ContainmentLevel.FEATURE_DISABLED
    assert sum(a.detector == DETECTOR for a in alerts) == 1, "found once, not at every tick"
