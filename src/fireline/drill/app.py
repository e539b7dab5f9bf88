"""The app of a drill: generated requests served the way its guards say.

For each request the app reads its feature's guard as the SDK does: outside the guard's
segment, or for a user a staged restoration has let back, it is served normally; a throttle
turns a share away, an input filter refuses what it matches; from level 4 only the probe
share reaches the model; at level 3 the configured fallback answers; a rollback's pin sends
the request to the pinned version. A fallback, and a pinned version that a fault is tied to,
answer as a healthy day would: the same request generated from the scenario without faults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fireline.domain.guard import ContainmentLevel, Guard, share_point
from fireline.domain.telemetry import Change, Feedback
from fireline.drill.generator import generate
from fireline.drill.generator_batch import Batch
from fireline.drill.spec import CALL_DIMENSIONS, CHANGE_DIMENSIONS, ScenarioSpec


@dataclass
class Served:
    """What the app did with the requests of one stretch of time."""

    #: The calls that reached a model, as `IngestService.ingest_columns` takes them.
    columns: dict[str, list[Any]]
    feedback: list[Feedback]
    changes: list[Change]
    #: The ids of recorded calls a fault harmed (the drill's ground truth).
    harmed: list[str] = field(default_factory=list)
    #: Requests answered by the fallback (level 3 and up), turned away by the throttle or
    #: refused by a filter, and failures users saw.
    fallback: int = 0
    turned_away: int = 0
    failed_for_users: int = 0


class SimulatedApp:
    """Requests from a scenario, answered by a model that fails as the scenario says, under
    the guards fireline sets."""

    def __init__(self, spec: ScenarioSpec, seed: int, *, eval_pass: float = 0.5) -> None:
        self.spec = spec
        self.seed = seed
        self.eval_pass = eval_pass
        self._healthy = spec.model_copy(update={"faults": []})

    def serve(self, start: datetime, end: datetime, guards: Mapping[str, Guard]) -> Served:
        """The requests in [start, end), served under `guards` (by feature)."""
        faulty = generate(self.spec, self.seed, start, end)
        columns = faulty.store_columns()
        harmed = harmed_mask(self.spec, faulty, self.eval_pass)
        if all(_inert(g) for g in guards.values()):
            failed = sum(s == "error" for s in columns["status"])
            ids = [i for i, h in zip(columns["call_id"], harmed.tolist(), strict=True) if h]
            return Served(columns, faulty.feedback, faulty.changes, ids, failed_for_users=failed)
        healthy = generate(self._healthy, self.seed, start, end)
        return self._under_guards(faulty, columns, harmed, healthy, guards)

    def _under_guards(
        self,
        faulty: Batch,
        columns: dict[str, list[Any]],
        harmed: NDArray[np.bool_],
        healthy: Batch,
        guards: Mapping[str, Guard],
    ) -> Served:
        calm = healthy.store_columns()
        names = list(columns)
        kept: dict[str, list[Any]] = {name: [] for name in names}
        served = Served(kept, [], faulty.changes)
        from_healthy: set[str] = set()
        for i, call_id in enumerate(columns["call_id"]):
            guard = guards.get(columns["feature"][i]) or Guard.normal(columns["feature"][i])
            source, mark = self._route(guard, columns, i, call_id, served)
            if source is None:
                continue
            row = {name: (calm if source == "healthy" else columns)[name][i] for name in names}
            row["attributes"] = {**row["attributes"], **mark}
            for kind, version in guard.routing.items():
                dimension = CHANGE_DIMENSIONS.get(kind)
                if dimension is not None and dimension in row:
                    row[dimension] = version
            if source == "healthy":
                from_healthy.add(call_id)
                fallback_model = guard.fallback.get("model")
                if mark.get("fallback") and fallback_model:
                    row["model"] = row["request_model"] = fallback_model
            elif harmed[i]:
                served.harmed.append(call_id)
            for name in names:
                kept[name].append(row[name])
            served.failed_for_users += row["status"] == "error"
        recorded = set(kept["call_id"]) - from_healthy
        served.feedback = [f for f in faulty.feedback if f.call_id in recorded]
        served.feedback += [f for f in healthy.feedback if f.call_id in from_healthy]
        return served

    def _route(
        self, guard: Guard, columns: dict[str, list[Any]], i: int, call_id: str, served: Served
    ) -> tuple[str | None, dict[str, Any]]:
        """Where request `i` goes: "faulty" (the model as it is), "healthy" (a fallback or a
        pinned version clear of the fault) or None (not sent to any model), and the
        attributes the app marks the call with."""
        attributes = {d: columns[d][i] for d in CALL_DIMENSIONS if columns[d][i] is not None}
        attributes.update(columns["attributes"][i])
        mark: dict[str, Any] = {}
        if guard.applies_to(attributes):
            level = guard.level_for(attributes, key=columns["user"][i])
            if guard.level > ContainmentLevel.NONE and level == ContainmentLevel.NONE:
                mark = {"restored": True}
            if share_point(call_id, "throttle") >= guard.throttle or (
                columns["input_text"][i] and guard.blocks(columns["input_text"][i])
            ):
                served.turned_away += 1
                return None, {}
            if level >= ContainmentLevel.FEATURE_DISABLED:
                if share_point(call_id, "probe") >= guard.probe_share:
                    served.fallback += 1
                    return None, {}
                mark = {"probe": True}
            elif level == ContainmentLevel.FALLBACK:
                served.fallback += 1
                return "healthy", {"fallback": True}
        # A rollback's pin holds for every request of the feature, in its segment or not.
        if guard.routing and self._pinned_clear(guard, columns, i):
            return "healthy", mark
        return "faulty", mark

    def _pinned_clear(self, guard: Guard, columns: dict[str, list[Any]], i: int) -> bool:
        """Whether a pinned version takes request `i` away from a fault tied to the version
        it would have run (a fault `where` the pinned dimension has another value)."""
        for fault in self.spec.faults:
            for kind, version in guard.routing.items():
                dimension = CHANGE_DIMENSIONS.get(kind)
                if dimension is None or dimension not in fault.where:
                    continue
                wanted = fault.where[dimension]
                if wanted != version and columns[dimension][i] == wanted:
                    return True
        return False


def _inert(guard: Guard) -> bool:
    return (
        guard.level == ContainmentLevel.NONE
        and not guard.routing
        and guard.throttle >= 1.0
        and not guard.block_input
    )


def harmed_mask(spec: ScenarioSpec, batch: Batch, eval_pass: float = 0.5) -> NDArray[np.bool_]:
    """The calls of `batch` a fault harmed: in the fault's window and segment, and showing
    what the fault does (failed, refused, leaking...); for a fault that shifts a value
    (latency, tokens, inputs), pushed beyond the healthy day's 95th percentile (5th for a
    fall): slower or longer than 19 calls in 20 of a normal day."""
    c = batch.columns
    found = np.zeros(len(batch), dtype=bool)
    for index, fault in enumerate(spec.faults):
        touched = ((c["faults"] >> index) & 1).astype(bool)
        shows = _SHOWS.get(fault.kind)
        if shows is not None:
            found |= touched & shows(c, eval_pass)
        else:
            found |= touched & _shifted(spec, fault, c)
    return found


_SHOWS: dict[str, Any] = {
    "error_burst": lambda c, _: c["failed"],
    "refusal": lambda c, _: c["refused"],
    "hallucinated_citations": lambda c, _: c["hallucinated"],
    "pii_output": lambda c, _: c["pii"],
    "prompt_injection": lambda c, _: c["injection"],
    "eval_degradation": lambda c, p: ~c["failed"] & (c["eval_score"] < p),
    "feedback": lambda c, _: c["thumbs_down"],
    "bad_answer": lambda c, _: c["bad_text"] != None,  # noqa: E711
}
#: The standard normal's 95th percentile: values are log-normal around their medians.
Z95 = 1.6449


def _shifted(spec: ScenarioSpec, fault: Any, c: Mapping[str, Any]) -> NDArray[np.bool_]:
    """The calls whose shifted value lies beyond the healthy day's tail on the fault's side."""
    feature = next(f for f in spec.features if f.name == fault.feature)
    b = feature.baseline

    def beyond(values: Any, median: float, spread: float, factor: float) -> NDArray[np.bool_]:
        if factor > 1:
            return np.asarray(values > median * np.exp(Z95 * spread))
        if factor < 1:
            return np.asarray(values < median * np.exp(-Z95 * spread))
        return np.zeros(len(values), dtype=bool)

    tokens = b.tokens
    if fault.kind == "latency":
        return beyond(c["latency_ms"], b.latency.median_ms, b.latency.spread, fault.factor)
    inputs = beyond(c["input_tokens"], tokens.input, tokens.spread, fault.input_factor)
    if fault.kind == "token_blowup":
        return inputs | beyond(
            c["output_tokens"], tokens.output, tokens.spread, fault.output_factor
        )
    return inputs


__all__ = ["Served", "SimulatedApp", "harmed_mask"]
