"""The incident lifecycle: a transition table, enforced by Incident.transition."""

from datetime import UTC, datetime, timedelta
from itertools import product

import pytest

from fireline.domain.incident import (
    TRANSITIONS,
    Incident,
    IncidentState,
    IncidentType,
    can_transition,
)
from fireline.domain.severity import Severity
from fireline.errors import IllegalTransition

DETECTED_AT = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
LATER = DETECTED_AT + timedelta(minutes=17)

LEGAL = [(source, target) for source, targets in TRANSITIONS.items() for target in targets]
ILLEGAL = [
    (source, target)
    for source, target in product(IncidentState, IncidentState)
    if target not in TRANSITIONS.get(source, frozenset())
]
OPEN_STATES = [
    s for s in IncidentState if s not in (IncidentState.RESOLVED, IncidentState.REVIEWED)
]


def new_incident() -> Incident:
    return Incident.detected(
        feature="support-bot",
        type=IncidentType.AVAILABILITY,
        severity=Severity.P1,
        title="provider errors",
        at=DETECTED_AT,
    )


def incident_in(state: IncidentState) -> Incident:
    return Incident(
        feature="support-bot",
        type=IncidentType.AVAILABILITY,
        severity=Severity.P1,
        title="provider errors",
        state=state,
        state_times={IncidentState.DETECTED: DETECTED_AT, state: DETECTED_AT},
        incident_id=7,
    )


def test_the_transition_table_covers_every_state():
    assert set(TRANSITIONS) == set(IncidentState)


def test_the_table_splits_every_pair_of_states_into_legal_or_illegal():
    assert len(LEGAL) + len(ILLEGAL) == len(IncidentState) ** 2
    assert LEGAL  # a lifecycle with no moves would make the tests below vacuous


def test_a_new_incident_is_detected_at_the_time_given():
    incident = new_incident()

    assert incident.state is IncidentState.DETECTED
    assert incident.detected_at == DETECTED_AT
    assert incident.time_of(IncidentState.TRIAGED) is None


@pytest.mark.parametrize(("source", "target"), LEGAL, ids=lambda s: str(s))
def test_a_legal_transition_moves_the_incident_and_records_when(source, target):
    incident = incident_in(source)
    times_before = dict(incident.state_times)

    moved = incident.transition(target, LATER)

    assert can_transition(source, target)
    assert moved.state is target
    assert moved.time_of(target) == LATER
    assert dict(moved.state_times) == {**times_before, target: LATER}
    assert moved.detected_at == DETECTED_AT
    assert moved.incident_id == incident.incident_id
    # The incident is a value: the original is left as it was.
    assert incident.state is source
    assert dict(incident.state_times) == times_before


@pytest.mark.parametrize(("source", "target"), ILLEGAL, ids=lambda s: str(s))
def test_an_illegal_transition_raises_and_names_both_states(source, target):
    incident = incident_in(source)

    with pytest.raises(IllegalTransition) as raised:
        incident.transition(target, LATER)

    assert not can_transition(source, target)
    assert str(source) in str(raised.value)
    assert str(target) in str(raised.value)
    assert incident.state is source


def test_a_resolved_incident_cannot_be_contained_again():
    resolved = new_incident().transition(IncidentState.RESOLVED, LATER)

    with pytest.raises(IllegalTransition):
        resolved.transition(IncidentState.CONTAINED, LATER + timedelta(minutes=1))


def test_no_state_can_transition_to_itself():
    for state in IncidentState:
        with pytest.raises(IllegalTransition):
            incident_in(state).transition(state, LATER)


def test_every_state_is_reachable_from_detected():
    # Explore by asking Incident.transition itself, not by reading the table.
    reached = {IncidentState.DETECTED}
    frontier = [new_incident()]
    while frontier:
        incident = frontier.pop()
        for target in IncidentState:
            try:
                moved = incident.transition(target, LATER)
            except IllegalTransition:
                continue
            if moved.state not in reached:
                reached.add(moved.state)
                frontier.append(moved)

    assert reached == set(IncidentState)


def test_a_walk_through_the_whole_lifecycle_keeps_the_time_of_every_step():
    steps = [
        IncidentState.TRIAGED,
        IncidentState.CONTAINED,
        IncidentState.INVESTIGATING,
        IncidentState.REMEDIATING,
        IncidentState.RESTORING,
        IncidentState.RESOLVED,
        IncidentState.REVIEWED,
    ]
    incident = new_incident()
    for minutes, state in enumerate(steps, start=1):
        incident = incident.transition(state, DETECTED_AT + timedelta(minutes=minutes))

    assert incident.state is IncidentState.REVIEWED
    assert incident.detected_at == DETECTED_AT
    for minutes, state in enumerate(steps, start=1):
        assert incident.time_of(state) == DETECTED_AT + timedelta(minutes=minutes)


@pytest.mark.parametrize("target", list(IncidentState), ids=str)
def test_a_reviewed_incident_is_terminal(target):
    reviewed = (
        new_incident()
        .transition(IncidentState.RESOLVED, LATER)
        .transition(IncidentState.REVIEWED, LATER)
    )

    with pytest.raises(IllegalTransition):
        reviewed.transition(target, LATER + timedelta(days=1))


@pytest.mark.parametrize("state", OPEN_STATES, ids=str)
def test_an_open_incident_can_be_resolved_from_any_state(state):
    assert incident_in(state).transition(IncidentState.RESOLVED, LATER).state is (
        IncidentState.RESOLVED
    )


@pytest.mark.parametrize("state", list(IncidentState), ids=str)
def test_an_incident_is_open_until_it_is_resolved(state):
    expected_open = state not in (IncidentState.RESOLVED, IncidentState.REVIEWED)

    assert state.is_open is expected_open
    assert incident_in(state).is_open is expected_open


def test_resolving_closes_an_open_incident():
    incident = new_incident().transition(IncidentState.TRIAGED, LATER)
    assert incident.is_open

    resolved = incident.transition(IncidentState.RESOLVED, LATER + timedelta(hours=1))

    assert not resolved.is_open
