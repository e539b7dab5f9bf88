"""Incidents are contained by the containment policy of fireline.yaml: the level it may set
alone at once, a stronger one proposed to the commander on the timeline."""

from __future__ import annotations

from datetime import timedelta

from fireline.clock import SimulatedClock
from fireline.config import parse_config
from fireline.domain.alert import Alert
from fireline.domain.guard import ContainmentLevel
from fireline.domain.incident import IncidentType
from fireline.domain.severity import Severity
from fireline.playbooks.engine import by_playbook
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
        # The playbook's advice is its own: these tests are about the policy's decisions.
        kinds = [e.kind for e in tx.timeline(incident.incident_id or 0) if not by_playbook(e.actor)]
    return app, kinds


def test_a_safety_incident_disables_the_feature_and_proposes_a_full_shutdown() -> None:
    app, kinds = fire("", an_alert(IncidentType.SAFETY, "scan.pii", 0.05))

    assert app.guard("support-bot").level is ContainmentLevel.FEATURE_DISABLED
    assert "containment_proposed" in kinds
    app.close()


def test_a_safety_alert_joining_a_quality_incident_makes_it_a_safety_incident() -> None:
    app = Fireline.in_memory(SimulatedClock(T0))
    with app.responding() as tx:
        first = app.incidents.on_alert(tx, an_alert(IncidentType.QUALITY, "scan.grounding", 0.02))
    assert app.guard("support-bot").level is ContainmentLevel.FALLBACK
    with app.responding() as tx:
        joined = app.incidents.on_alert(tx, an_alert(IncidentType.SAFETY, "scan.pii", 0.01))
        entries = tx.timeline(first.incident_id or 0)

    assert joined.incident_id == first.incident_id
    assert (joined.type, joined.nist) == (IncidentType.SAFETY, "privacy")
    assert joined.severity.rank <= Severity.P1.rank  # privacy's floor
    assert app.guard("support-bot").level is ContainmentLevel.FEATURE_DISABLED
    [retyped] = [e for e in entries if e.kind == "retyped"]
    assert retyped.data == {"from": "quality", "to": "safety"}
    app.close()


def test_a_lighter_alert_joining_leaves_the_type_alone() -> None:
    app = Fireline.in_memory(SimulatedClock(T0))
    with app.responding() as tx:
        app.incidents.on_alert(tx, an_alert(IncidentType.SAFETY, "scan.pii", 0.01))
        joined = app.incidents.on_alert(tx, an_alert(IncidentType.ECONOMIC, "cost_per_call", 9.0))

    assert joined.type is IncidentType.SAFETY
    app.close()


def test_a_drift_of_a_graver_type_says_calls_changed_and_leaves_the_type_alone() -> None:
    app = Fireline.in_memory(SimulatedClock(T0))
    with app.responding() as tx:
        app.incidents.on_alert(tx, an_alert(IncidentType.ECONOMIC, "cost_per_call", 9.0))
        joined = app.incidents.on_alert(tx, an_alert(IncidentType.QUALITY, "output_length", 0.3))

    assert joined.type is IncidentType.ECONOMIC
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


def test_a_quality_incident_after_a_prompt_change_rolls_the_prompt_back_by_itself() -> None:
    from fireline.domain.telemetry import Change, ChangeKind

    clock = SimulatedClock(T0 - timedelta(days=1))
    app = Fireline.in_memory(clock)
    with app.responding() as tx:
        tx.add_changes(
            [
                Change(
                    "c1", T0 - timedelta(days=1), ChangeKind.PROMPT, "v6", feature="support-bot"
                ),
                Change(
                    "c2",
                    T0 - timedelta(minutes=20),
                    ChangeKind.PROMPT,
                    "v7",
                    feature="support-bot",
                    previous_version="v6",
                ),
            ]
        )
    clock.set(T0)
    with app.responding() as tx:
        incident = app.incidents.on_alert(tx, an_alert(IncidentType.QUALITY, "refusal_rate", 0.3))
        entries = tx.timeline(incident.incident_id or 0)

    guard = app.guard("support-bot")
    assert guard.routing == {"prompt": "v6"}
    assert guard.level is ContainmentLevel.FALLBACK
    [routing] = [e for e in entries if e.kind == "routing"]
    assert "rolled back from v7 to v6" in routing.message
    assert routing.actor == "policy:default"
    app.close()


def test_without_a_known_good_version_nothing_is_rolled_back() -> None:
    from fireline.domain.telemetry import Change, ChangeKind

    clock = SimulatedClock(T0)
    app = Fireline.in_memory(clock)
    with app.responding() as tx:
        # The first version ever, deployed just now: nothing earlier is known good.
        tx.add_changes(
            [
                Change(
                    "c1", T0 - timedelta(minutes=5), ChangeKind.PROMPT, "v1", feature="support-bot"
                )
            ]
        )
        incident = app.incidents.on_alert(tx, an_alert(IncidentType.QUALITY, "refusal_rate", 0.3))
        kinds = [e.kind for e in tx.timeline(incident.incident_id or 0)]

    assert app.guard("support-bot").routing == {}
    assert "routing" not in kinds
    app.close()


def test_injection_attempts_propose_a_forward_fix_with_input_filters() -> None:
    yaml = """
containment:
  levels:
    - {name: injections warn, when: {incident_type: [safety]}, level: 1}
    - {name: otherwise monitor, level: 1}
"""
    app, _ = fire(yaml, an_alert(IncidentType.SAFETY, "scan.injection", 0.2))
    with app.state.unit_of_work() as tx:
        [incident] = tx.list_incidents()
        facts = [e for e in tx.timeline(incident.incident_id or 0) if e.kind == "guard_set"]

    assert facts[0].data["strategy"] == "forward_fix"
    app.close()


def test_an_incident_confined_to_one_tenant_is_contained_for_that_tenant_only() -> None:
    from dataclasses import replace

    alert = replace(an_alert(IncidentType.QUALITY, "refusal_rate", 0.3), segment={"tenant": "acme"})
    app, _ = fire("", alert)
    guard = app.guard("support-bot")

    assert guard.level is ContainmentLevel.FALLBACK
    assert guard.segment == {"tenant": "acme"}
    assert guard.level_for({"tenant": "globex"}) is ContainmentLevel.NONE
    app.close()
