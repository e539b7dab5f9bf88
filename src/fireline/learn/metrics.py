"""Response metrics of incidents: MTTD, MTTA, MTTC and MTTR, counts and recurrence, per
calendar month or quarter (UTC), as medians and means with the number of incidents behind
each figure. Pure functions: the facts come in, the report goes out."""

from __future__ import annotations

import itertools
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from fireline.domain.incident import Incident, IncidentState

#: Another incident with the same fingerprint this long before makes an incident a recurrence.
RECURRENCE_WINDOW = timedelta(days=90)


class Period(StrEnum):
    """How incidents are grouped: by calendar month or quarter, in UTC."""

    MONTH = "month"
    QUARTER = "quarter"


class Metric(StrEnum):
    """The four durations, each measured on one incident."""

    MTTD = "mttd"  # detection − onset
    MTTA = "mtta"  # acknowledgement − detection
    MTTC = "mttc"  # containment − detection
    MTTR = "mttr"  # resolution − detection


@dataclass(frozen=True, slots=True)
class IncidentFacts:
    """One incident and the onset of its harm (from its earliest alert), if known."""

    incident: Incident
    onset: datetime | None = None


def onset_of(evidence: Mapping[str, Any], window_start: datetime) -> datetime:
    """The onset an alert records: its evidence's ISO "onset" if valid, else its window start.

    >>> start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    >>> onset_of({"onset": "2026-03-02T08:40:00+00:00"}, start).isoformat()
    '2026-03-02T08:40:00+00:00'
    >>> onset_of({"onset": "not a time"}, start) == start
    True
    """
    value = evidence.get("onset")
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return window_start
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return window_start


def durations(facts: IncidentFacts) -> dict[Metric, float]:
    """The metrics this incident has, in seconds (a step not reached has none)."""
    incident = facts.incident
    detected = incident.detected_at
    found: dict[Metric, float] = {}
    if facts.onset is not None and facts.onset <= detected:
        found[Metric.MTTD] = (detected - facts.onset).total_seconds()
    ends = {
        Metric.MTTA: incident.acknowledged_at,
        Metric.MTTC: incident.time_of(IncidentState.CONTAINED),
        Metric.MTTR: incident.time_of(IncidentState.RESOLVED),
    }
    for metric, end in ends.items():
        if end is not None and end >= detected:
            found[metric] = (end - detected).total_seconds()
    return found


def bucket_of(at: datetime, period: Period) -> str:
    """The calendar month ("2026-03") or quarter ("2026-Q1") of `at`, in UTC.

    >>> bucket_of(datetime(2026, 3, 31, 23, 30, tzinfo=UTC), Period.QUARTER)
    '2026-Q1'
    >>> bucket_of(datetime(2026, 4, 1, 0, 30, tzinfo=UTC), Period.MONTH)
    '2026-04'
    """
    at = at.astimezone(UTC)
    if period is Period.MONTH:
        return f"{at.year:04d}-{at.month:02d}"
    return f"{at.year:04d}-Q{(at.month - 1) // 3 + 1}"


def bucket_start(at: datetime, period: Period) -> datetime:
    """The first instant of the month or quarter holding `at`, in UTC."""
    at = at.astimezone(UTC)
    month = at.month if period is Period.MONTH else 3 * ((at.month - 1) // 3) + 1
    return datetime(at.year, month, 1, tzinfo=UTC)


def recurrences(incidents: Iterable[Incident]) -> set[int]:
    """Ids of the incidents with another incident of the same fingerprint detected within
    `RECURRENCE_WINDOW` before them (an incident without a fingerprint never recurs)."""
    by_fingerprint: dict[str, list[Incident]] = {}
    for incident in incidents:
        if incident.fingerprint and incident.incident_id is not None:
            by_fingerprint.setdefault(incident.fingerprint, []).append(incident)
    found: set[int] = set()
    for group in by_fingerprint.values():
        group.sort(key=lambda i: (i.detected_at, i.incident_id or 0))
        for earlier, later in itertools.pairwise(group):
            if later.detected_at - earlier.detected_at <= RECURRENCE_WINDOW:
                assert later.incident_id is not None
                found.add(later.incident_id)
    return found


@dataclass(frozen=True, slots=True)
class Summary:
    """A metric over a group of incidents: how many had it, their median and mean."""

    count: int
    median_s: float | None
    mean_s: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        if not values:
            return cls(0, None, None)
        return cls(len(values), statistics.median(values), statistics.fmean(values))


@dataclass(frozen=True, slots=True)
class Bucket:
    """The incidents detected in one month or quarter, and their metrics."""

    label: str
    start: datetime
    incidents: int
    recurrences: int
    by_type: Mapping[str, int]
    by_severity: Mapping[str, int]
    metrics: Mapping[Metric, Summary] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "bucket": self.label,
            "start": self.start.isoformat(),
            "incidents": self.incidents,
            "recurrences": self.recurrences,
            "by_type": dict(self.by_type),
            "by_severity": dict(self.by_severity),
            "metrics": {
                m.value: {"count": s.count, "median_s": s.median_s, "mean_s": s.mean_s}
                for m, s in self.metrics.items()
            },
        }


def _bucket(label: str, start: datetime, group: Sequence[IncidentFacts], recur: set[int]) -> Bucket:
    measured = [durations(f) for f in group]
    return Bucket(
        label=label,
        start=start,
        incidents=len(group),
        recurrences=sum(1 for f in group if f.incident.incident_id in recur),
        by_type=dict(sorted(Counter(f.incident.type.value for f in group).items())),
        by_severity=dict(sorted(Counter(f.incident.severity.value for f in group).items())),
        metrics={m: Summary.of([d[m] for d in measured if m in d]) for m in Metric},
    )


@dataclass(frozen=True, slots=True)
class MetricsReport:
    """Metrics per period, oldest first, and over the whole range."""

    period: Period
    buckets: Sequence[Bucket]
    total: Bucket

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.period.value,
            "buckets": [b.to_json() for b in self.buckets],
            "total": self.total.to_json(),
        }


def report(
    facts: Sequence[IncidentFacts],
    period: Period,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> MetricsReport:
    """Metrics of the incidents detected in [since, until), grouped by `period`.

    `facts` may hold incidents detected before `since`: they count only for recurrence."""
    recur = recurrences(f.incident for f in facts)
    chosen = [
        f
        for f in facts
        if (since is None or f.incident.detected_at >= since)
        and (until is None or f.incident.detected_at < until)
    ]
    groups: dict[str, list[IncidentFacts]] = {}
    starts: dict[str, datetime] = {}
    for item in sorted(chosen, key=lambda f: f.incident.detected_at):
        label = bucket_of(item.incident.detected_at, period)
        groups.setdefault(label, []).append(item)
        starts.setdefault(label, bucket_start(item.incident.detected_at, period))
    buckets = [_bucket(label, starts[label], group, recur) for label, group in groups.items()]
    first = since or (buckets[0].start if buckets else datetime(1970, 1, 1, tzinfo=UTC))
    return MetricsReport(period, buckets, _bucket("total", first, chosen, recur))


def format_duration(seconds: float | None) -> str:
    """A short human reading of a duration: "–", "45s", "12m", "3.5h", "2.1d".

    >>> [format_duration(s) for s in (None, 45, 720, 12_600, 181_440)]
    ['–', '45s', '12m', '3.5h', '2.1d']
    """
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3_600:
        return f"{seconds / 60:.0f}m"
    if seconds < 86_400:
        return f"{seconds / 3_600:.1f}h"
    return f"{seconds / 86_400:.1f}d"
