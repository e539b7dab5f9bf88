"""A seeded generator of one feature's calls, and a simulated app that obeys its guard."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from fireline.domain.guard import ContainmentLevel, Guard
from fireline.domain.telemetry import Call, CallStatus
from fireline.drill.scenario import Scenario


@dataclass(frozen=True, slots=True)
class Served:
    """What the simulated app did with the requests of one tick."""

    calls: list[Call]
    fallback: int
    failed_for_users: int


#: Distinct users of a simulated app.
USERS = 5000


class SimulatedApp:
    """Users' requests to one feature, answered by a model that fails as the scenario says.

    With the feature disabled by its guard, the app serves its fallback, except for the guard's
    probe share of requests, which still go to the model so recovery can be seen.
    """

    def __init__(self, scenario: Scenario, seed: int) -> None:
        self.scenario = scenario
        self._rng = np.random.default_rng(seed)
        self._seq = 0

    def rate_at(self, offset_s: float) -> float:
        s = self.scenario
        phase = 2 * math.pi * ((offset_s / 3600.0 - s.peak_hour) / 24.0)
        return s.mean_rate_per_s * (1 + s.daily_amplitude * math.cos(phase))

    def serve(self, start: datetime, end: datetime, guard: Guard) -> Served:
        s, rng = self.scenario, self._rng
        span = (end - start).total_seconds()
        offset = (start - s.start).total_seconds()
        n = int(rng.poisson(self.rate_at(offset + span / 2) * span))
        offsets = np.sort(rng.uniform(0, span, n))
        users = rng.integers(0, USERS, n)
        to_model = np.ones(n, dtype=bool) if guard.enabled else rng.random(n) < guard.probe_share
        # A staged restoration lets a growing share of users back onto the model.
        restored = np.zeros(n, dtype=bool)
        if guard.level > ContainmentLevel.NONE and guard.restore_share > 0:
            back = {u for u in np.unique(users) if guard.level_for({}, key=f"user-{u}") == 0}
            restored = np.fromiter((u in back for u in users), dtype=bool, count=n)
            to_model |= restored
        fault = s.fault
        in_fault = (
            np.array([fault.active(offset + o) for o in offsets], dtype=bool)
            if fault is not None
            else np.zeros(n, dtype=bool)
        )
        error_p = np.where(in_fault, fault.error_rate if fault else 0.0, s.baseline_error_rate)
        failed = rng.random(n) < error_p
        normal_kinds = list(s.baseline_error_types)
        normal_choice = rng.choice(
            len(normal_kinds), size=n, p=list(s.baseline_error_types.values())
        )
        fault_kinds = list(fault.error_types) if fault else normal_kinds
        fault_choice = rng.choice(
            len(fault_kinds), size=n, p=list(fault.error_types.values()) if fault else None
        )
        latency = rng.lognormal(math.log(900), 0.4, n)
        input_tokens = rng.integers(200, 1200, n)
        output_tokens = rng.integers(50, 400, n)

        calls: list[Call] = []
        for i in np.flatnonzero(to_model):
            self._seq += 1
            error_type = None
            if failed[i]:
                error_type = (
                    fault_kinds[fault_choice[i]] if in_fault[i] else normal_kinds[normal_choice[i]]
                )
            calls.append(
                Call(
                    call_id=f"{s.name}-{self._seq:08d}",
                    time=start + timedelta(seconds=float(offsets[i])),
                    feature=s.feature,
                    status=CallStatus.ERROR if failed[i] else CallStatus.OK,
                    error_type=error_type,
                    latency_ms=float(latency[i]),
                    provider="simulated",
                    model="sim-large",
                    input_tokens=int(input_tokens[i]),
                    output_tokens=0 if failed[i] else int(output_tokens[i]),
                    user=f"user-{users[i]}",
                    attributes=(
                        {"restored": True}
                        if restored[i]
                        else {"probe": True}
                        if not guard.enabled
                        else {}
                    ),
                )
            )
        fallback = int(n - to_model.sum())
        return Served(calls, fallback, int((failed & to_model).sum()))
