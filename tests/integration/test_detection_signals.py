"""Detection on real stores: signals per feature and segment, budgets, evals, feedback, restarts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from fireline.clock import SimulatedClock
from fireline.config import Config, parse_config
from fireline.domain.alert import Alert
from fireline.domain.telemetry import Call, CallStatus, Feedback, FeedbackKind
from fireline.runtime import Fireline
from fireline.settings import Settings
from tests.conftest import T0

TENANTS = ("acme", "globex", "initech")


class App:
    """A simulated app: 90 calls a minute over three tenants, with knobs for faults."""

    def __init__(self, fireline: Fireline, clock: SimulatedClock, seed: int = 1) -> None:
        self.fireline, self.clock = fireline, clock
        self.rng = np.random.default_rng(seed)
        self.count = 0
        self.alerts: list[Alert] = []

    def minute(self, **fault: Any) -> None:
        start, rng = self.clock.now(), self.rng
        calls, feedback = [], []
        for i in range(90):
            tenant = TENANTS[i % 3]
            error_rate = fault.get("error_rate", {}).get(tenant, 0.01)
            timed_out = rng.random() < fault.get("timeout_rate", 0.003)
            latency = fault.get("latency_ms", 800.0)
            score = fault.get("score", 0.9)
            refused = rng.random() < fault.get("refusal_rate", 0.0)
            self.count += 1
            call_id = f"call-{self.count}"
            calls.append(
                Call(
                    call_id=call_id,
                    time=start + timedelta(seconds=i * 60 / 90),
                    feature="assistant",
                    status=CallStatus.ERROR
                    if timed_out or rng.random() < error_rate
                    else CallStatus.OK,
                    error_type="timeout" if timed_out else "rate_limit",
                    latency_ms=float(rng.lognormal(np.log(latency), 0.3)),
                    model="gpt-x",
                    tenant=tenant,
                    input_tokens=int(rng.integers(200, 400)),
                    output_tokens=5 if refused else int(rng.integers(100, 200)),
                    finish_reason="refusal" if refused else "stop",
                    cost_usd=fault.get("cost_usd", 0.002),
                    eval_scores={"faithfulness": float(np.clip(rng.normal(score, 0.05), 0, 1))},
                )
            )
            if rng.random() < fault.get("regenerate", 0.02):
                feedback.append(
                    Feedback(
                        feedback_id=f"re-{self.count}",
                        call_id=call_id,
                        time=start + timedelta(seconds=i * 60 / 90 + 0.2),
                        kind=FeedbackKind.REGENERATE,
                    )
                )
            if rng.random() < 0.3:
                down = rng.random() < fault.get("thumbs_down", 0.05)
                feedback.append(
                    Feedback(
                        feedback_id=f"fb-{self.count}",
                        call_id=call_id,
                        time=start + timedelta(seconds=i * 60 / 90 + 0.1),
                        kind=FeedbackKind.THUMBS_DOWN if down else FeedbackKind.THUMBS_UP,
                    )
                )
        self.fireline.telemetry.insert_calls(calls)
        self.fireline.telemetry.insert_new_feedback(feedback)
        self.clock.advance(60)
        self.alerts.extend(self.fireline.tick().alerts)

    def run(self, minutes: int, **fault: Any) -> list[Alert]:
        before = len(self.alerts)
        for _ in range(minutes):
            self.minute(**fault)
        return self.alerts[before:]


def deployment(config: str = "") -> tuple[Fireline, SimulatedClock]:
    clock = SimulatedClock(T0)
    return Fireline.in_memory(clock, config=parse_config(config) if config else Config()), clock


def signals_of(alerts: list[Alert]) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    return {(a.signal, tuple(sorted(a.segment.items()))) for a in alerts}


def test_two_healthy_hours_stay_within_the_false_alarm_budget_of_every_series() -> None:
    app = App(*deployment())

    alerts = app.run(120)

    # About 100 series for 2 hours at one false alarm per 30 days each: 0.28 expected, so
    # three or more would happen with probability 0.3% if every detector kept its budget.
    assert len(alerts) <= 2, signals_of(alerts)


def test_a_fault_in_one_tenant_alerts_on_that_tenant_with_its_own_calls_as_evidence() -> None:
    fireline, clock = deployment()
    app = App(fireline, clock)
    app.run(100)

    alerts = app.run(5, error_rate={"globex": 0.4})

    tenant_alerts = [a for a in alerts if a.segment == {"tenant": "globex"}]
    # The rate-limit rate moved too, but the error rate's alarm already says so.
    assert [a.signal for a in tenant_alerts] == ["error_rate"]
    assert ("error_rate", (("tenant", "acme"),)) not in signals_of(alerts)
    evidence = tenant_alerts[0].evidence
    assert evidence["segment"] == {"tenant": "globex"}
    assert evidence["sample_call_ids"]
    for call_id in evidence["sample_call_ids"]:
        call = fireline.telemetry.get_call(call_id)
        assert call is not None
        assert (call["tenant"], call["status"]) == ("globex", "error")
    assert tenant_alerts[0].current_value > 0.2 > 0.05 > tenant_alerts[0].baseline_value


def test_a_latency_regression_alerts_in_milliseconds() -> None:
    app = App(*deployment())
    app.run(100)

    alerts = app.run(5, latency_ms=1_600.0)

    [latency] = [a for a in alerts if a.signal == "latency" and not a.segment]
    assert 700 < latency.baseline_value < 900
    assert latency.current_value > 1_300
    assert latency.evidence["direction"] == "up"


def test_a_cost_budget_in_the_configuration_alerts_when_cost_per_hour_passes_it() -> None:
    # 90 calls a minute at $0.002 is $10.80 an hour.
    app = App(*deployment("detection:\n  signals:\n    cost_per_hour: {budget: 20}\n"))
    assert app.run(30) == []

    alerts = app.run(5, cost_usd=0.006)

    [budget] = [a for a in alerts if a.signal == "cost_per_hour" and not a.segment]
    assert budget.detector == "budget"
    assert budget.current_value > 20
    assert budget.evidence["limit"] == 20


def test_a_drop_in_an_eval_score_alerts_on_that_eval() -> None:
    app = App(*deployment())
    app.run(100)

    alerts = app.run(5, score=0.7)

    found = signals_of(alerts)
    assert ("eval.faithfulness", ()) in found
    assert ("eval_fail_rate.faithfulness", ()) not in found  # 0.7 still passes 0.5


def test_a_rise_in_thumbs_down_alerts_on_the_feedback_signal() -> None:
    app = App(*deployment())
    app.run(100)

    alerts = app.run(20, thumbs_down=0.5)

    assert ("thumbs_down_rate", ()) in signals_of(alerts)


def test_a_refusal_spike_alerts_on_refusals_and_leaves_the_output_tokens_of_answers_alone() -> None:
    app = App(*deployment())
    app.run(100, refusal_rate=0.01)

    alerts = app.run(20, refusal_rate=0.3)

    found = {signal for signal, _ in signals_of(alerts)}
    assert "refusal_rate" in found
    assert "output_tokens" not in found


def test_a_signal_switched_off_in_the_configuration_is_not_watched() -> None:
    config = (
        "detection:\n  features:\n    assistant:\n      signals:\n"
        "        error_rate: {enabled: false}\n"
    )
    app = App(*deployment(config))
    app.run(100)

    alerts = app.run(5, error_rate=dict.fromkeys(TENANTS, 0.5))

    assert all(a.signal != "error_rate" for a in alerts)


def test_a_restart_during_an_alarm_neither_loses_nor_refires_it(tmp_path: Path) -> None:
    clock = SimulatedClock(T0)
    # Recovery resolves at once here; staged restoration has its own tests.
    (tmp_path / "fireline.yaml").write_text("containment: {restoration: {enabled: false}}\n")

    def start() -> Fireline:
        return Fireline(Settings(data_dir=tmp_path), clock=clock, lateness_s=0)

    first = start()
    app = App(first, clock)
    app.run(100)
    fired = app.run(3, error_rate=dict.fromkeys(TENANTS, 0.5))
    assert ("error_rate", ()) in signals_of(fired)
    first.close()

    second = start()
    app.fireline = second
    again = app.run(5, error_rate=dict.fromkeys(TENANTS, 0.5))
    after = app.run(30)
    second.close()

    assert ("error_rate", ()) not in signals_of(again)
    [incident] = [i for i in second.list_incidents() if i.title.startswith("error rate")]
    assert incident.state.value == "resolved"
    assert after == [] or ("error_rate", ()) not in signals_of(after)


def test_more_timeouts_alert_on_the_timeout_rate_itself() -> None:
    app = App(*deployment())
    app.run(100)

    alerts = app.run(10, timeout_rate=0.05)

    timeouts = [a for a in alerts if a.signal == "error_rate.timeout" and not a.segment]
    assert len(timeouts) == 1
    assert timeouts[0].baseline_value < 0.01 < 0.03 < timeouts[0].current_value
    assert timeouts[0].incident_type.value == "availability"
    call = app.fireline.telemetry.get_call(timeouts[0].evidence["sample_call_ids"][0])
    assert call is not None
    assert call["error_type"] == "timeout"


def test_more_regenerations_alert_on_the_regenerate_rate() -> None:
    app = App(*deployment())
    app.run(100)

    alerts = app.run(15, regenerate=0.2)

    [regenerations] = [a for a in alerts if a.signal == "regenerate_rate" and not a.segment]
    # Minutes without a regeneration counted as calls without one: the baseline is ~2%.
    assert 0.01 < regenerations.baseline_value < 0.035


def test_a_feature_whose_calls_all_arrive_behind_the_watermark_is_found_and_judged() -> None:
    fireline, clock = deployment()
    clock.set(T0 + timedelta(minutes=70))
    fireline.tick()  # detection has moved past the whole hour before any call arrived
    calls = []
    for minute in range(69):
        for i in range(60):
            failed = i % 2 == 0 if minute >= 64 else i == 0 and minute % 3 == 0
            calls.append(
                Call(
                    call_id=f"late-{minute}-{i}",
                    time=T0 + timedelta(minutes=minute, seconds=i),
                    feature="backfilled",
                    status=CallStatus.ERROR if failed else CallStatus.OK,
                )
            )
    fireline.telemetry.insert_calls(calls)
    clock.advance(60)

    result = fireline.tick()

    assert ("backfilled", "error_rate") in [(a.feature, a.signal) for a in result.alerts]
