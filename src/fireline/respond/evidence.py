"""Graver harm among an open incident's own calls: a scanner's hits that rose without alerting.

An incident contained at once (fallback mode after made-up citations) can hide a worse harm
found in the same calls: a PII leak whose hit rate over all of the feature's calls, most now
answered by the fallback, never alerts. Investigation's rise test over the incident's calls
finds it (`Investigator.case`); such a rise of a scanner of a graver type becomes an alert of
its own that joins the incident, which then takes that type (`IncidentService._retype`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from fireline.detect.catalog import SCAN_RATE, signal_named
from fireline.domain.alert import Alert
from fireline.domain.incident import Incident, graver
from fireline.investigate.service import LOOKBACK, Investigator, rise_p
from fireline.store.state import StateTx

#: The detector named on such alerts.
DETECTOR = "incident_evidence"


def graver_evidence(
    investigator: Investigator, tx: StateTx, incident: Incident, now: datetime
) -> list[Alert]:
    """Alerts for the scanners whose hits rose among the incident's calls without alerting,
    when they say a graver type than the incident's (at most one per signal and segment)."""
    assert incident.incident_id is not None
    case = investigator.case(tx, incident.incident_id, now)
    raised = {
        (a.signal, tuple(sorted(a.segment.items())))
        for a in tx.alerts(incident_id=incident.incident_id)
    }
    found: list[Alert] = []
    for term in case.scope.also:
        name = term.signal.signal
        signal = signal_named(name)
        key = (name, tuple(sorted(term.segment.items())))
        if not name.startswith(SCAN_RATE) or signal is None or key in raised:
            continue
        if not graver(signal.incident_type, incident.type):
            continue
        others = tuple(t for t in case.scope.also if t is not term)
        (calls, base), [(hits, base_hits)] = investigator.reader.failure_counts(
            replace(case.scope, also=others), [term.signal], case.onset.at, case.end, LOOKBACK,
            dict(term.segment),
        )  # fmt: skip
        found.append(
            Alert(
                detector=DETECTOR,
                feature=incident.feature,
                signal=name,
                incident_type=signal.incident_type,
                fired_at=now,
                window_start=case.onset.at,
                window_end=case.end,
                baseline_value=base_hits / base if base else 0.0,
                current_value=hits / calls if calls else 0.0,
                p_value=rise_p(hits, calls, base_hits, base),
                evidence={
                    "hits": hits,
                    "calls": calls,
                    "baseline_hits": base_hits,
                    "baseline_calls": base,
                    "why": "rose among the incident's calls (investigation's rise test)",
                },
                segment=dict(term.segment),
                # A finding at one moment, not an alarm that waits for its signal to recover:
                # it never holds the incident's restoration back.
                resolved_at=now,
                summary=(
                    f"{name} hits among the incident's calls: {hits} of {calls} since the onset, "
                    f"against {base_hits} of {base} in the 6 hours before"
                ),
            )
        )
    return found


__all__ = ["DETECTOR", "graver_evidence"]
