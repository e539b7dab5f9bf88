"""Guard controls: a segment narrows a guard, a restoration lets users back, filters match."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fireline.contain.controls import Controls, describe_controls
from fireline.contain.restore import Restoration
from fireline.domain.guard import ContainmentLevel, Guard, in_canary
from fireline.errors import InvalidInput

T0 = datetime(2026, 3, 2, tzinfo=UTC)
USERS = [f"user-{n}" for n in range(4000)]


def test_a_segment_guard_leaves_requests_outside_the_segment_alone() -> None:
    guard = Controls(segment={"tenant": "acme", "locale": "de"}).apply(
        Guard("bot", ContainmentLevel.FALLBACK)
    )

    assert guard.level_for({"tenant": "acme", "locale": "de"}) is ContainmentLevel.FALLBACK
    assert guard.level_for({"tenant": "acme", "locale": "fr"}) is ContainmentLevel.NONE
    assert guard.level_for({}) is ContainmentLevel.NONE


def test_a_restoration_lets_back_about_its_share_of_users_and_keeps_them_back() -> None:
    restoration = Restoration.start("bot", salt="bot:1:1", at=T0)
    guard = Guard("bot", ContainmentLevel.FEATURE_DISABLED, restoration=restoration.to_state())
    back = {u for u in USERS if guard.level_for({}, key=u) is ContainmentLevel.NONE}

    assert guard.restore_share == 0.05
    assert 120 < len(back) < 280
    assert all(in_canary(u, 0.25, "bot:1:1") for u in back)  # still back at the next stage
    assert guard.level_for({}, key=None) is ContainmentLevel.FEATURE_DISABLED


def test_a_rolled_back_restoration_lets_no_one_back() -> None:
    from fireline.contain.restore import Verdict

    rolled = Restoration.start("bot", salt="s", at=T0).step(Verdict.ROLLBACK, T0)
    guard = Guard("bot", ContainmentLevel.FEATURE_DISABLED, restoration=rolled.to_state())

    assert guard.restore_share == 0.0
    assert all(guard.level_for({}, key=u) is ContainmentLevel.FEATURE_DISABLED for u in USERS)


def test_block_patterns_match_case_insensitively_on_their_own_side() -> None:
    guard = Controls(block_input=("ignore previous",), block_output=("secret",)).apply(
        Guard("bot", ContainmentLevel.WARN)
    )

    assert guard.blocks("IGNORE PREVIOUS orders") == "ignore previous"
    assert guard.blocks("the secret is out") is None
    assert guard.blocks("the Secret is out", "output") == "secret"


@pytest.mark.parametrize(
    ("controls", "problem"),
    [
        ({"throttle": 0.0}, "throttle"),
        ({"throttle": 1.01}, "throttle"),
        ({"block_input": ("(",)}, "not a regular expression"),
        ({"block_output": ("x" * 501,)}, "chars"),
        ({"segment": {f"d{n}": "v" for n in range(9)}}, "dimensions"),
    ],
)
def test_bad_controls_name_their_problem(controls: dict[str, object], problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem):
        Controls(**controls)  # type: ignore[arg-type]


def test_controls_read_as_words_on_the_timeline() -> None:
    guard = Controls(segment={"tenant": "acme"}, throttle=0.25, block_input=("x",)).apply(
        Guard("bot", ContainmentLevel.FALLBACK)
    )

    assert (
        describe_controls(guard)
        == " for tenant acme; throttled to 25% of requests; 1 input filter(s)"
    )
    assert describe_controls(Guard("bot")) == ""


def test_a_full_shutdown_elsewhere_holds_a_narrowed_guard_for_every_request() -> None:
    from fireline.clock import SimulatedClock
    from fireline.runtime import Fireline

    app = Fireline.in_memory(SimulatedClock(T0))
    try:
        with app.state.unit_of_work() as tx:
            narrowed = Controls(segment={"tenant": "acme"}).apply(
                Guard("bot", ContainmentLevel.FALLBACK, updated_at=T0)
            )
            tx.put_guard(narrowed)
            tx.put_guard(Guard("platform", ContainmentLevel.FULL_SHUTDOWN, updated_at=T0))
        guard = app.guard("bot")
    finally:
        app.close()

    assert guard.level is ContainmentLevel.FULL_SHUTDOWN
    assert guard.level_for({"tenant": "globex"}) is ContainmentLevel.FULL_SHUTDOWN
