"""Drill scenarios: one feature's traffic over a day, and the fault injected into it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from fireline.domain.guard import ContainmentLevel
from fireline.domain.incident import IncidentType
from fireline.domain.severity import Severity


@dataclass(frozen=True, slots=True)
class Fault:
    """A burst of failures: from `onset_s` after the start, for `duration_s`, at `error_rate`."""

    onset_s: int
    duration_s: int
    error_rate: float
    error_types: Mapping[str, float]
    expected_type: IncidentType
    expected_severities: frozenset[Severity]
    expected_containment: ContainmentLevel

    def active(self, offset_s: float) -> bool:
        return self.onset_s <= offset_s < self.onset_s + self.duration_s


@dataclass(frozen=True, slots=True)
class Scenario:
    """A day of one feature's traffic with a daily cycle, and at most one fault."""

    name: str
    description: str
    feature: str = "support-bot"
    start: datetime = datetime(2026, 3, 2, tzinfo=UTC)
    duration_s: int = 86_400
    mean_rate_per_s: float = 2.0
    daily_amplitude: float = 0.6
    peak_hour: float = 14.0
    baseline_error_rate: float = 0.01
    baseline_error_types: Mapping[str, float] = field(
        default_factory=lambda: {"http_500": 0.5, "timeout": 0.5}
    )
    fault: Fault | None = None

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.duration_s)

    def at(self, offset_s: float) -> datetime:
        return self.start + timedelta(seconds=offset_s)


PROVIDER_OUTAGE = Scenario(
    name="provider-outage",
    description=(
        "The model provider fails 60% of requests with 503 and 429 errors for 45 minutes "
        "in the early afternoon; the rest of the day is normal traffic at 1% errors."
    ),
    fault=Fault(
        onset_s=13 * 3600 + 17 * 60,
        duration_s=45 * 60,
        error_rate=0.6,
        error_types={"http_503": 0.6, "http_429": 0.4},
        expected_type=IncidentType.AVAILABILITY,
        expected_severities=frozenset({Severity.P0, Severity.P1}),
        expected_containment=ContainmentLevel.FEATURE_DISABLED,
    ),
)

QUIET_DAY = Scenario(
    name="quiet-day",
    description="A normal day with no fault at all: every alert is a false alarm.",
)

SCENARIOS: Mapping[str, Scenario] = {s.name: s for s in (PROVIDER_OUTAGE, QUIET_DAY)}
