"""Guards as the SDK reads them from fireline's answers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fireline.api.schemas import GuardOut
from fireline.domain.guard import ContainmentLevel as ServerLevel
from fireline.domain.guard import Guard as ServerGuard
from fireline.sdk import ContainmentLevel, Guard
from fireline.sdk._guards import parse_guard


def test_a_guard_answer_of_the_api_is_read_whole() -> None:
    answer = GuardOut.of(
        ServerGuard(
            "support-bot",
            level=ServerLevel.FEATURE_DISABLED,
            reason="P1",
            incident_id=3,
            probe_share=0.05,
            set_by="policy:default",
            updated_at=datetime(2026, 3, 2, 9, 18, tzinfo=UTC),
        )
    ).model_dump(mode="json")

    assert parse_guard("support-bot", answer) == Guard(
        "support-bot",
        level=4,
        enabled=False,
        probe_share=0.05,
        reason="P1",
        incident_id=3,
        updated_at=datetime(2026, 3, 2, 9, 18, tzinfo=UTC),
        source="fireline",
    )


@pytest.mark.parametrize(
    "body", [None, [], "level 4", {}, {"level": "4"}, {"level": True}, {"level": -1}]
)
def test_an_answer_that_is_not_a_guard_is_not_taken_for_one(body: object) -> None:
    assert parse_guard("support-bot", body) is None


def test_a_guard_without_enabled_is_disabled_from_the_kill_switch_up() -> None:
    assert [parse_guard("f", {"level": n}).enabled for n in range(6)] == [  # type: ignore[union-attr]
        True,
        True,
        True,
        True,
        False,
        False,
    ]


def test_an_impossible_probe_share_reads_as_no_probe() -> None:
    assert parse_guard("f", {"level": 4, "probe_share": 7}).probe_share == 0.0  # type: ignore[union-attr]


def test_an_enabled_feature_always_calls_the_model() -> None:
    assert all(Guard("f").should_call_model() for _ in range(100))


def test_a_disabled_feature_without_probes_never_calls_the_model() -> None:
    guard = Guard("f", level=5, enabled=False, probe_share=0.0)
    assert not any(guard.should_call_model() for _ in range(100))


def test_levels_have_the_servers_names_and_unknown_ones_still_read() -> None:
    assert Guard("f", level=ContainmentLevel.HUMAN_REVIEW).name == "human_review"
    assert Guard("f", level=9).name == "level_9"
