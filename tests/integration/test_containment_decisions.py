"""Incidents are contained by the containment policy of fireline.yaml: the level it may set
alone at once, a stronger one proposed to the commander on the timeline."""

from __future__ import annotations

from datetime import timedelta

from fireline.clock import SimulatedClock
from fireline.config import parse_config
from fireline.domain.alert import Alert
from fireline.domain.guard import ContainmentLevel
from fireline.domain.incident import IncidentType
from fireline.runtime import Fireline
from tests.conftest import T0


def an_alert(incident_type: IncidentType, signal: str, current: float) -> Alert:
    return Alert(
        detector="cusum_bernoulli",
        feature="support-bot",
        signal=signal,
        incident_type=incident_type,
        fired_at=T0,
        window_start=T0 - timedelta(minutes=5),
        window_end=T0,
        baseline_value=0.0,
        current_value=current,
        p_value=1e-9,
    )


def fire(yaml: str, alert: Alert) -> tuple[Fireline, list[str]]:
    app = Fireline.in_memory(SimulatedClock(T0), config=parse_config(yaml))
    with app.responding() as tx:
        incident = app.incidents.on_alert(tx, alert)
        kinds = [e.kind for e in tx.timeline(incident.incident_id or 0)]
    return app, kinds


def test_a_safety_incident_disables_the_feature_and_proposes_a_full_shutdown() -> None:
    app, kinds = fire("", an_alert(IncidentType.SAFETY, "scan.pii", 0.05))

    assert app.guard("support-bot").level is ContainmentLevel.FEATURE_DISABLED
    assert "containment_proposed" in kinds
    app.close()


def test_the_configured_policy_replaces_the_default_tree() -> None:
    yaml = """
containment:
  levels:
    - {name: quality only warns here, when: {incident_type: [quality]}, level: 1}
    - {name: otherwise nothing special, level: 1}
"""
    app, kinds = fire(yaml, an_alert(IncidentType.QUALITY, "refusal_rate", 0.3))

    assert app.guard("support-bot").level is ContainmentLevel.WARN
    assert "containment_proposed" not in kinds
    assert "quality only warns here" in app.guard("support-bot").reason
    app.close()


def test_a_commander_approves_a_full_shutdown_that_holds_every_feature(
    deployment, base_url: str
) -> None:
    import httpx

    from fireline.domain.access import Role
    from fireline.tokens import issue_token

    app, clock = deployment
    with app.responding() as tx:
        incident = app.incidents.on_alert(tx, an_alert(IncidentType.SAFETY, "scan.pii", 0.05))
    commander = issue_token(app.state, "ic", Role.COMMANDER, now=clock.now())
    responder = issue_token(app.state, "oncall", Role.RESPONDER, now=clock.now())
    body = {"level": 5, "reason": "approved: personal data in answers"}

    with httpx.Client(base_url=base_url) as http:
        refused = http.put(
            "/api/guards/support-bot", json=body, headers={"Authorization": f"Bearer {responder}"}
        )
        approved = http.put(
            "/api/guards/support-bot", json=body, headers={"Authorization": f"Bearer {commander}"}
        )

    assert refused.status_code == 403
    assert approved.json()["level"] == 5
    assert app.guard("checkout-assistant").level is ContainmentLevel.FULL_SHUTDOWN
    with app.state.unit_of_work(read_only=True) as tx:
        kinds = [e.kind for e in tx.timeline(incident.incident_id or 0)]
    assert kinds.count("guard_set") == 2  # the interim kill switch, then the shutdown
