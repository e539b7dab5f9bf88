"""Escalation: tiers and their timeouts, whom each pages, when pages are new or repeated."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from fireline.config import parse_config
from fireline.domain.severity import Severity
from fireline.errors import ConfigError
from fireline.oncall.escalation import (
    DEFAULT_POLICY,
    NO_PAGING,
    PageRecord,
    Policy,
    Recipient,
    Route,
    Target,
    TargetKind,
    Tier,
    choose_policy,
    due_pages,
    recipients,
)
from fireline.oncall.schedule import Override, Rotation, Schedule

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def levels(policy: Policy, minutes: float) -> list[int]:
    return [tier.level for tier in policy.active_tiers(minutes * MIN)]


def tier(level: int, start: int, end: int, *targets: str) -> Tier:
    return Tier(level, start * MIN, end * MIN, tuple(Target.parse(t) for t in targets))


def test_the_default_policy_pages_the_on_call_engineer_then_managers_then_leadership() -> None:
    summary = [
        (t.level, t.start // MIN, t.end // MIN, [str(x) for x in t.targets])
        for t in DEFAULT_POLICY.tiers
    ]
    assert summary == [
        (1, 0, 15, ["schedule:primary"]),
        (2, 15, 30, ["role:engineering-manager", "role:senior-engineer"]),
        (3, 30, 60, ["role:director", "role:leadership"]),
    ]


@pytest.mark.parametrize(
    ("minutes", "expected"), [(0, [1]), (14.9, [1]), (15, [2]), (29.9, [2]), (30, [3]), (59, [3])]
)
def test_each_tier_is_active_from_its_start_until_its_timeout(
    minutes: float, expected: list[int]
) -> None:
    assert levels(DEFAULT_POLICY, minutes) == expected


def test_after_the_last_timeout_the_last_tier_stays_active_until_acknowledged() -> None:
    assert levels(DEFAULT_POLICY, 60) == [3]
    assert levels(DEFAULT_POLICY, 600) == [3]


def test_overlapping_tiers_are_paged_together() -> None:
    policy = Policy("overlap", (tier(1, 0, 20, "person:a"), tier(2, 10, 30, "person:b")))
    assert levels(policy, 5) == [1]
    assert levels(policy, 12) == [1, 2]


def test_in_a_gap_between_tiers_the_tier_that_started_last_stays_active() -> None:
    policy = Policy("gap", (tier(1, 0, 10, "person:a"), tier(2, 20, 30, "person:b")))
    assert levels(policy, 15) == [1]


@pytest.mark.parametrize(
    ("tiers", "message"),
    [
        ((), "at least one tier"),
        ((tier(1, 5, 10, "person:a"),), "minute 0"),
        ((tier(1, 0, 10, "person:a"), tier(2, 20, 20, "person:b")), "end after it starts"),
        (
            (tier(1, 0, 30, "person:a"), tier(2, 20, 40, "person:b"), tier(3, 10, 50, "person:c")),
            "order",
        ),
    ],
)
def test_a_policy_that_cannot_escalate_properly_is_refused(
    tiers: tuple[Tier, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Policy("bad", tiers)


@pytest.mark.parametrize("text", ["primary", "team:x", "schedule:", "role: "])
def test_a_target_must_be_written_kind_colon_name(text: str) -> None:
    with pytest.raises(ValueError, match="is not a target"):
        Target.parse(text)


# ------------------------------------------------------------ whom a tier pages


SCHEDULES = {
    "primary": Schedule("primary", (Rotation(people=("ana", "ben"), start=date(2026, 3, 1)),))
}
ROLES = {"engineering-manager": ["em"], "senior-engineer": ["sam", "em"], "director": []}


def whom(t: Tier, overrides: list[Override] | None = None) -> list[tuple[str | None, str]]:
    found = recipients(t, T0, schedules=SCHEDULES, overrides=overrides or [], roles=ROLES)
    return [(r.person, str(r.target)) for r in found]


def test_a_schedule_target_pages_whoever_is_on_call_now() -> None:
    assert whom(tier(1, 0, 15, "schedule:primary")) == [("ana", "schedule:primary")]


def test_an_override_changes_who_a_schedule_target_pages() -> None:
    cover = Override("primary", "zoe", T0 - MIN, T0 + 60 * MIN)
    assert whom(tier(1, 0, 15, "schedule:primary"), [cover]) == [("zoe", "schedule:primary")]


def test_a_role_target_pages_everyone_in_the_role_and_each_person_once() -> None:
    found = whom(tier(2, 15, 30, "role:engineering-manager", "role:senior-engineer"))
    assert found == [("em", "role:engineering-manager"), ("sam", "role:senior-engineer")]


def test_a_target_that_resolves_to_nobody_is_kept_as_nobody_so_the_gap_shows() -> None:
    found = whom(tier(3, 30, 60, "role:director", "schedule:missing", "person:cto"))
    assert found == [(None, "role:director"), (None, "schedule:missing"), ("cto", "person:cto")]


# ------------------------------------------------------------ which pages are due


POLICY = Policy(
    "p",
    (tier(1, 0, 15, "person:ana"), tier(2, 15, 30, "person:em")),
    repeat_every=5 * MIN,
)


def due(minutes: float, sent: list[PageRecord]) -> list[tuple[int, str | None, int]]:
    now = T0 + minutes * MIN
    by_tier = {
        t.level: [Recipient(x.name, x) for x in t.targets] for t in POLICY.active_tiers(now - T0)
    }
    found = due_pages(POLICY, started_at=T0, now=now, recipients_by_tier=by_tier, sent=sent)
    return [(d.tier, d.recipient.person, d.attempt) for d in found]


def test_the_first_tier_is_paged_as_soon_as_paging_begins() -> None:
    assert due(0, []) == [(1, "ana", 1)]


def test_a_page_is_not_repeated_before_the_repeat_interval() -> None:
    assert due(4.9, [PageRecord(1, "ana", T0, 1)]) == []


def test_an_unacknowledged_page_is_repeated_every_interval() -> None:
    assert due(5, [PageRecord(1, "ana", T0, 1)]) == [(1, "ana", 2)]
    assert due(10, [PageRecord(1, "ana", T0, 2)]) == [(1, "ana", 3)]


def test_repeats_are_counted_from_the_first_page_so_a_late_tick_does_not_delay_the_next() -> None:
    # The second attempt went out late, at minute 9; the third is still due at minute 10.
    assert due(10, [PageRecord(1, "ana", T0, 2)]) == [(1, "ana", 3)]


def test_at_the_timeout_the_next_tier_is_paged_and_the_first_stops_repeating() -> None:
    assert due(15, [PageRecord(1, "ana", T0, 3)]) == [(2, "em", 1)]


def test_nobody_to_page_is_recorded_once_and_never_repeated() -> None:
    now = T0 + 20 * MIN
    nobody = Recipient(None, Target(TargetKind.ROLE, "director"))
    found = due_pages(
        POLICY,
        started_at=T0,
        now=now,
        recipients_by_tier={2: [nobody]},
        sent=[PageRecord(2, nobody.key, T0 + 15 * MIN, 0)],
    )
    assert found == []


# ------------------------------------------------------------ which policy pages


ROUTES = [
    Route("medical", ("medical-*",), frozenset({Severity.P0, Severity.P1})),
    Route(NO_PAGING, ("*",), frozenset({Severity.P3})),
]


@pytest.mark.parametrize(
    ("feature", "severity", "expected"),
    [
        ("medical-triage", Severity.P0, "medical"),
        ("medical-triage", Severity.P2, "default"),
        ("music-recs", Severity.P3, NO_PAGING),
        ("music-recs", Severity.P1, "default"),
    ],
)
def test_the_first_route_matching_feature_and_severity_chooses_the_policy(
    feature: str, severity: Severity, expected: str
) -> None:
    assert choose_policy(ROUTES, "default", feature, severity) == expected


# ------------------------------------------------------------ YAML


YAML = """\
oncall:
  schedules:
    primary:
      rotations:
        - {people: [ana], start: 2026-03-01}
  roles:
    director: [dee]
  policies:
    critical:
      repeat_every_min: 2
      tiers:
        - start_min: 0
          end_min: 5
          targets: [schedule:primary, person:lead]
        - start_min: 5
          end_min: 10
          targets: [role:director]
  routes:
    - features: [medical-*]
      severities: [P0]
      policy: critical
"""


def test_policies_and_routes_in_yaml_keep_the_built_in_default_policy() -> None:
    settings = parse_config(YAML).oncall
    policies = settings.policy_objects()
    assert set(policies) == {"default", "critical"}
    assert policies["critical"].repeat_every == 2 * MIN
    assert policies["default"].repeat_every == 5 * MIN
    routes = settings.route_objects()
    assert choose_policy(routes, settings.default_policy, "medical-x", Severity.P0) == "critical"


@pytest.mark.parametrize(
    ("change", "line", "message"),
    [
        (("[role:director]", "[role:vp]"), 17, "no role named 'vp'"),
        (("[schedule:primary, person:lead]", "[schedule:primary, pager:lead]"), 14, "not a target"),
        (("policy: critical", "policy: urgent"), 21, "no policy named 'urgent'"),
        (("severities: [P0]", "severities: [P5]"), 20, "P0"),
        (("start_min: 5", "start_min: 12"), 15, "end_min must be after start_min"),
        (("start_min: 0", "start_min: 1"), 9, "the first tier must start at minute 0"),
        (("repeat_every_min: 2", "repeat_every_min: 0"), 10, "greater than or equal to 1"),
    ],
)
def test_a_bad_policy_is_reported_with_its_file_line_and_problem(
    change: tuple[str, str], line: int, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(YAML.replace(*change), source="fireline.yaml")
    assert caught.value.line == line
    assert message in caught.value.message
