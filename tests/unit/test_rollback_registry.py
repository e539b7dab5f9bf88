"""The rollback registry: versions from the change log, last known good from healthy windows."""

import doctest
from datetime import UTC, datetime, timedelta

import pytest

import fireline.contain.rollback
from fireline.contain.rollback import (
    HealthWindow,
    build_registry,
    healthy_stretches,
    version_spans,
)
from fireline.domain.telemetry import Change, ChangeKind

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
BOT = "support-bot"


def deploy(
    version: str,
    at: datetime,
    kind: str = "prompt",
    feature: str | None = BOT,
    previous: str | None = None,
) -> Change:
    return Change(
        f"{kind}-{version}-{at.isoformat()}",
        at,
        ChangeKind(kind),
        version,
        feature,
        previous_version=previous,
    )


def window(start: datetime, end: datetime, healthy: bool = True, feature: str = BOT):
    return HealthWindow(feature, start, end, healthy)


def five_minute_windows(start: datetime, end: datetime, healthy: bool = True):
    out, t = [], start
    while t < end:
        out.append(window(t, t + 5 * MINUTE, healthy))
        t += 5 * MINUTE
    return out


def test_the_current_version_is_the_one_deployed_last():
    changes = [deploy("v2", T0 + HOUR), deploy("v1", T0), deploy("v3", T0 + 2 * HOUR)]

    assert build_registry(changes, []).current(BOT, "prompt") == "v3"


def test_a_version_is_known_good_after_a_whole_healthy_window_of_the_minimum_length():
    changes = [deploy("v1", T0), deploy("v2", T0 + 2 * HOUR)]
    health = [window(T0, T0 + 2 * HOUR), window(T0 + 2 * HOUR, T0 + 3 * HOUR, healthy=False)]

    registry = build_registry(changes, health, min_healthy_minutes=30)

    assert registry.last_known_good(BOT, "prompt") == "v1"
    assert registry.rollback_target(BOT, "prompt") == "v1"


def test_a_healthy_stretch_shorter_than_the_minimum_does_not_make_a_version_known_good():
    changes = [deploy("v1", T0), deploy("v2", T0 + 20 * MINUTE)]
    health = [window(T0, T0 + 20 * MINUTE), window(T0 + 20 * MINUTE, T0 + HOUR, False)]

    registry = build_registry(changes, health, min_healthy_minutes=30)

    assert registry.last_known_good(BOT, "prompt") is None
    assert registry.rollback_target(BOT, "prompt") is None


def test_healthy_time_counts_only_while_the_version_was_live():
    # Healthy for two hours, but v2 replaced v1 after 10 minutes: v1 was never proven.
    changes = [deploy("v1", T0), deploy("v2", T0 + 10 * MINUTE), deploy("v3", T0 + 2 * HOUR)]
    health = [window(T0, T0 + 2 * HOUR)]

    registry = build_registry(changes, health, min_healthy_minutes=30)

    assert registry.history(BOT, "prompt").good_until.keys() == {"v2"}
    assert registry.rollback_target(BOT, "prompt") == "v2"


def test_an_unhealthy_window_breaks_a_healthy_stretch():
    changes = [deploy("v1", T0), deploy("v2", T0 + HOUR)]
    health = [window(T0, T0 + HOUR), window(T0 + 25 * MINUTE, T0 + 30 * MINUTE, False)]

    registry = build_registry(changes, health, min_healthy_minutes=30)

    assert registry.last_known_good(BOT, "prompt") == "v1"
    assert registry.history(BOT, "prompt").good_until["v1"] == T0 + HOUR
    assert healthy_stretches(health, BOT) == [
        (T0, T0 + 25 * MINUTE),
        (T0 + 30 * MINUTE, T0 + HOUR),
    ]


def test_adjacent_short_healthy_windows_add_up_to_one_stretch():
    changes = [deploy("v1", T0), deploy("v2", T0 + HOUR)]
    health = five_minute_windows(T0, T0 + 40 * MINUTE)

    registry = build_registry(changes, health, min_healthy_minutes=30)

    assert registry.last_known_good(BOT, "prompt") == "v1"


def test_the_last_known_good_is_the_version_proven_most_recently():
    changes = [deploy("v1", T0), deploy("v2", T0 + HOUR), deploy("v3", T0 + 2 * HOUR)]
    health = [window(T0 - HOUR, T0 + 3 * HOUR)]

    registry = build_registry(changes, health, min_healthy_minutes=30)

    assert registry.last_known_good(BOT, "prompt") == "v3"
    # The current version is never its own rollback target.
    assert registry.rollback_target(BOT, "prompt") == "v2"


def test_the_version_before_the_first_logged_change_comes_from_its_previous_version():
    changes = [deploy("v2", T0, previous="v1")]
    health = [window(T0 - HOUR, T0), window(T0, T0 + HOUR, False)]

    registry = build_registry(changes, health, min_healthy_minutes=30)

    assert registry.rollback_target(BOT, "prompt") == "v1"


def test_a_redeployed_version_keeps_its_earlier_proof():
    changes = [deploy("A", T0), deploy("B", T0 + HOUR), deploy("A", T0 + 2 * HOUR)]
    health = [window(T0, T0 + HOUR), window(T0 + HOUR, T0 + 3 * HOUR, False)]

    registry = build_registry(changes, health, min_healthy_minutes=30)

    assert registry.current(BOT, "prompt") == "A"
    assert registry.last_known_good(BOT, "prompt") == "A"
    assert registry.rollback_target(BOT, "prompt") is None


def test_rolling_forward_after_a_rollback_deploy_returns_to_the_newer_version():
    changes = [deploy("A", T0), deploy("B", T0 + HOUR), deploy("A", T0 + 2 * HOUR)]

    assert build_registry(changes, []).roll_forward_target(BOT, "prompt") == "B"


def test_rolling_forward_from_a_pinned_version_lifts_the_pin():
    changes = [deploy("A", T0), deploy("B", T0 + HOUR)]
    registry = build_registry(changes, [])

    assert registry.roll_forward_target(BOT, "prompt", pinned="A") == "B"
    assert registry.roll_forward_target(BOT, "prompt", pinned="B") is None


def test_on_the_newest_version_there_is_nothing_to_roll_forward_to():
    changes = [
        deploy("A", T0),
        deploy("B", T0 + HOUR),
        deploy("A", T0 + 2 * HOUR),
        deploy("C", T0 + 3 * HOUR),
    ]

    assert build_registry(changes, []).roll_forward_target(BOT, "prompt") is None


def test_models_prompts_and_indexes_have_separate_histories():
    changes = [
        deploy("gpt-a", T0, "model"),
        deploy("p1", T0, "prompt"),
        deploy("idx-7", T0, "index"),
        deploy("gpt-b", T0 + HOUR, "model"),
    ]

    registry = build_registry(changes, [])

    assert registry.current(BOT, "model") == "gpt-b"
    assert registry.current(BOT, "prompt") == "p1"
    assert registry.current(BOT, ChangeKind.INDEX) == "idx-7"


def test_flags_configs_and_changes_naming_no_feature_are_not_versions():
    changes = [deploy("on", T0, "flag"), deploy("x", T0, "config"), deploy("p9", T0, feature=None)]

    assert build_registry(changes, []).histories == {}


def test_changes_after_now_are_not_yet_live():
    changes = [deploy("v1", T0), deploy("v2", T0 + HOUR)]

    assert build_registry(changes, [], now=T0 + 30 * MINUTE).current(BOT, "prompt") == "v1"


def test_another_features_health_does_not_prove_a_version():
    changes = [deploy("v1", T0), deploy("v2", T0 + 2 * HOUR)]
    health = [window(T0, T0 + 2 * HOUR, feature="search")]

    assert build_registry(changes, health).last_known_good(BOT, "prompt") is None


def test_a_feature_the_log_never_named_has_no_versions():
    registry = build_registry([deploy("v1", T0)], [])

    assert registry.current("search", "prompt") is None
    assert registry.rollback_target("search", "prompt") is None
    assert registry.roll_forward_target("search", "prompt") is None


def test_a_change_that_re_records_the_live_version_does_not_split_its_span():
    spans = version_spans([deploy("v1", T0), deploy("v1", T0 + HOUR)], BOT, ChangeKind.PROMPT)

    assert [(s.version, s.start, s.end) for s in spans] == [("v1", T0, None)]


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="weights"):
        build_registry([], []).current(BOT, "weights")


def test_the_examples_in_the_docstrings_hold():
    failed, attempted = doctest.testmod(fireline.contain.rollback, verbose=False, report=False)

    assert attempted > 0
    assert failed == 0
