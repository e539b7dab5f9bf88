"""The review's signal plot: the alerting signal(s) per minute around an incident, with the
onset, detection, containment and resolution marked. Pure: the series come in, SVG comes out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from fireline.learn.svg import Mark, Point, line_chart, stacked

#: The plot starts this long before the onset and ends this long after the resolution.
BEFORE = timedelta(hours=1)
AFTER = timedelta(minutes=30)
#: At most this many signals are plotted (one panel each).
MAX_SIGNALS = 3
_COLOURS = {
    "onset": "#8e44ad",
    "detected": "#c0392b",
    "contained": "#d35400",
    "resolved": "#27ae60",
}


@dataclass(frozen=True, slots=True)
class SignalSeries:
    """One signal of the feature (and segment) per bucket from `start`: a failure rate
    (failing calls / calls) or a metric's mean; None where the bucket has no calls."""

    signal: str
    kind: str
    start: datetime
    bucket_s: int
    values: Sequence[float | None]
    segment: Mapping[str, str] = field(default_factory=dict)

    @property
    def title(self) -> str:
        where = ", ".join(f"{k}={v}" for k, v in sorted(self.segment.items()))
        what = "failure rate" if self.kind == "rate" else "mean"
        return f"{self.signal} ({what} per {self.bucket_s}s{'; ' + where if where else ''})"

    def position(self, at: datetime) -> float:
        """Where `at` falls on the x axis, in buckets from the start of the first one."""
        return (at - self.start).total_seconds() / self.bucket_s


def plot_range(onset: datetime, end: datetime, bucket_s: int = 60) -> tuple[datetime, datetime]:
    """From BEFORE the onset to AFTER `end`, on whole buckets.

    >>> from datetime import UTC
    >>> t = datetime(2026, 3, 2, 9, 0, 20, tzinfo=UTC)
    >>> [f"{w:%H:%M:%S}" for w in plot_range(t, t + timedelta(minutes=5))]
    ['08:00:00', '09:36:00']
    """
    start = onset - BEFORE
    start -= timedelta(seconds=start.timestamp() % bucket_s)
    stop = end + AFTER
    left = stop.timestamp() % bucket_s
    if left:
        stop += timedelta(seconds=bucket_s - left)
    return start, stop


def signal_svg(series: Sequence[SignalSeries], marks: Mapping[str, datetime | None]) -> str:
    """One panel per signal, with a dashed line at each of `marks` (label → time)."""
    charts = []
    for one in series[:MAX_SIGNALS]:
        points = [
            Point(
                f"{one.start + timedelta(seconds=one.bucket_s * i):%H:%M}",
                None if v is None else (v * 100 if one.kind == "rate" else v),
            )
            for i, v in enumerate(one.values)
        ]
        drawn = [
            Mark(label, one.position(at), _COLOURS.get(label, "#555"))
            for label, at in marks.items()
            if at is not None
        ]
        unit = "%" if one.kind == "rate" else ""
        charts.append(line_chart(one.title, points, unit=unit, marks=drawn, dots=False))
    return stacked(charts)
