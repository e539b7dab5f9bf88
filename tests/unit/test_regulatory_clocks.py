"""Regulatory regimes, clocks and reminders (pure), and their configuration."""

from __future__ import annotations

import doctest
from dataclasses import replace
from datetime import timedelta
from types import ModuleType

import pytest

from fireline.config import parse_config
from fireline.errors import ConfigError
from fireline.status import regulatory, summary
from fireline.status.config import RegimeSettings, Regulatory, regimes_in_force
from fireline.status.regulatory import (
    DEFAULT_REGIMES,
    RegulatoryClock,
    parse_reminder_point,
    reminder_schedule,
    reminders_due,
    start_clock,
)
from tests.conftest import T0

POINTS = ["50%", "80%", "1d", "overdue"]


def a_clock(
    regime: str = "eu_ai_act", variant: str | None = None, days: int = 15
) -> RegulatoryClock:
    regimes = regimes_in_force(Regulatory(data_breach_days=days))
    return start_clock(
        regimes[regime],
        incident_id=7,
        variant=variant,
        aware_at=T0,
        reason="a user was harmed",
        started_by="token:cic",
    )


@pytest.mark.parametrize(
    ("variant", "days"),
    [
        (None, 15),
        ("death", 10),
        ("widespread_infringement", 2),
        ("critical_infrastructure", 2),
    ],
)
def test_an_eu_ai_act_serious_incident_is_due_in_its_variants_days(
    variant: str | None, days: int
) -> None:
    clock = a_clock("eu_ai_act", variant)
    assert clock.started_at == T0
    assert clock.due_at == T0 + timedelta(days=days)
    assert clock.variant == variant


def test_a_hipaa_breach_is_due_in_60_days() -> None:
    assert a_clock("hipaa").due_at == T0 + timedelta(days=60)


def test_the_generic_data_breach_has_no_deadline_until_the_user_sets_its_days() -> None:
    with pytest.raises(ValueError, match="no deadline configured"):
        DEFAULT_REGIMES["data_breach"].days_for(None)
    assert a_clock("data_breach", days=3).due_at == T0 + timedelta(days=3)


def test_an_unknown_variant_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ValueError, match="critical_infrastructure, death, widespread"):
        DEFAULT_REGIMES["eu_ai_act"].days_for("flood")
    with pytest.raises(ValueError, match="known: none"):
        DEFAULT_REGIMES["hipaa"].days_for("death")


def test_the_configuration_overrides_days_adds_variants_and_adds_regimes() -> None:
    regimes = regimes_in_force(
        Regulatory(
            regimes={
                "hipaa": RegimeSettings(days=30),
                "eu_ai_act": RegimeSettings(variants={"death": 5, "health": 7}),
                "gdpr": RegimeSettings(title="GDPR Art. 33", days=3),
            }
        )
    )
    assert regimes["hipaa"].days == 30
    assert regimes["eu_ai_act"].variants == {
        "death": 5,
        "widespread_infringement": 2,
        "critical_infrastructure": 2,
        "health": 7,
    }
    assert regimes["eu_ai_act"].days == 15
    assert (regimes["gdpr"].title, regimes["gdpr"].days) == ("GDPR Art. 33", 3)
    assert DEFAULT_REGIMES["hipaa"].days == 60  # the defaults themselves never change


def test_reminders_fall_at_shares_of_the_period_before_the_deadline_and_at_it() -> None:
    schedule = reminder_schedule(a_clock(), POINTS)
    assert [(r.point, r.at - T0) for r in schedule] == [
        ("50%", timedelta(days=7.5)),
        ("80%", timedelta(days=12)),
        ("1d", timedelta(days=14)),
        ("overdue", timedelta(days=15)),
    ]


def test_a_point_that_falls_before_the_clock_started_is_dropped() -> None:
    two_days = a_clock("eu_ai_act", "critical_infrastructure")
    points = [r.point for r in reminder_schedule(two_days, ["50%", "3d", "12h"])]
    assert points == ["50%", "12h"]


def test_nothing_is_due_before_the_first_point() -> None:
    assert reminders_due(a_clock(), POINTS, T0 + timedelta(days=7)) == []


def test_a_point_reminds_once_and_then_not_again() -> None:
    clock = a_clock()
    now = T0 + timedelta(days=8)
    [due] = reminders_due(clock, POINTS, now)
    assert due.point == "50%"
    assert "incident 7" in due.message(now)
    assert "due 2026-03-17 09:00 UTC" in due.message(now)
    sent = replace(clock, reminders_sent=("50%",))
    assert reminders_due(sent, POINTS, now) == []
    assert [r.point for r in reminders_due(sent, POINTS, T0 + timedelta(days=12))] == ["80%"]


def test_after_a_downtime_only_the_latest_missed_point_reminds() -> None:
    due = reminders_due(a_clock(), POINTS, T0 + timedelta(days=14, hours=1))
    assert [r.point for r in due] == ["1d"]


def test_at_the_deadline_the_reminder_says_overdue() -> None:
    clock = a_clock()
    now = T0 + timedelta(days=15)
    [due] = reminders_due(clock, POINTS, now)
    assert due.overdue
    assert "OVERDUE" in due.message(now)
    assert clock.overdue(now)
    assert not clock.overdue(now - timedelta(seconds=1))


def test_a_reported_clock_reminds_of_nothing_and_is_never_overdue() -> None:
    reported = replace(a_clock(), reported_at=T0 + timedelta(days=1), reported_by="me")
    assert reminders_due(reported, POINTS, T0 + timedelta(days=30)) == []
    assert not reported.overdue(T0 + timedelta(days=30))


@pytest.mark.parametrize("point", ["150%", "0%", "soon", "0d", "1w", "-1d", ""])
def test_a_reminder_point_that_means_nothing_is_refused(point: str) -> None:
    with pytest.raises(ValueError, match="reminder"):
        parse_reminder_point(point)


def test_a_bad_reminder_point_in_fireline_yaml_is_named_with_its_line() -> None:
    text = "status:\n  regulatory:\n    reminders: ['50%', 'soon']\n"
    with pytest.raises(ConfigError, match=r":3: status\.regulatory\.reminders.*'soon'"):
        parse_config(text, source="fireline.yaml")


def test_an_unknown_page_time_zone_is_refused_with_its_line() -> None:
    text = "status:\n  page:\n    name: Acme\n    time_zone: Mars/Olympus\n"
    with pytest.raises(ConfigError, match=r":4: .*unknown time zone 'Mars/Olympus'"):
        parse_config(text, source="fireline.yaml")


def test_a_full_status_section_is_accepted() -> None:
    text = """
status:
  page: {id: acme, name: Acme status, url: "https://status.acme.test", time_zone: Europe/Paris}
  components:
    - {feature: support-bot, name: Support assistant}
  regulatory:
    data_breach_days: 3
    reminders: ["25%", "12h", overdue]
    regimes:
      eu_ai_act: {variants: {death: 10}}
"""
    status = parse_config(text).status
    assert status.page.time_zone == "Europe/Paris"
    assert status.components is not None
    assert status.components[0].name == "Support assistant"
    assert regimes_in_force(status.regulatory)["data_breach"].days == 3


@pytest.mark.parametrize("module", [regulatory, summary])
def test_the_examples_in_the_docstrings_hold(module: ModuleType) -> None:
    failed, attempted = doctest.testmod(module, verbose=False, report=False)
    assert attempted > 0
    assert failed == 0
