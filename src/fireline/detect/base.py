"""The contract every detector follows: `update(x)`, then read `drift_detected` and `evidence`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Protocol

from fireline.domain.incident import IncidentType

#: The false-alarm budget every detector is calibrated to unless told otherwise.
DEFAULT_FALSE_ALARMS_PER_30_DAYS = 1.0


@dataclass(frozen=True, slots=True)
class ErrorCounts:
    """Calls and failed calls of one feature in one time bucket [start, end)."""

    start: datetime
    end: datetime
    calls: int
    errors: int


class Detector(Protocol):
    """A small online learner: feed it one bucket at a time and read whether it is alarmed.

    `evidence` describes the current alarm (empty when not alarmed) or, right after it clears,
    the recovery; `level` is the signal's current value, None without enough data.
    `to_state`/`load_state` let the engine keep detectors across ticks and restarts; `clear`
    forgets an alarm a person closed.
    """

    name: ClassVar[str]
    signal: ClassVar[str]
    incident_type: ClassVar[IncidentType]
    bucket_s: int
    window_s: int
    false_alarms_per_30_days: float

    def update(self, x: ErrorCounts) -> None: ...

    @property
    def drift_detected(self) -> bool: ...

    @property
    def evidence(self) -> dict[str, Any]: ...

    @property
    def level(self) -> float | None: ...

    @property
    def history_s(self) -> int: ...

    def clear(self) -> None: ...

    def to_state(self) -> dict[str, Any]: ...

    def load_state(self, state: dict[str, Any]) -> None: ...
