"""Trend plots of the metrics report: one value per period, as an SVG line chart."""

from __future__ import annotations

from enum import StrEnum

from fireline.learn.metrics import Bucket, Metric, MetricsReport
from fireline.learn.svg import Point, line_chart


class TrendSeries(StrEnum):
    """What a trend plot shows: a metric's median (in hours) or a count per period."""

    MTTD = "mttd"
    MTTA = "mtta"
    MTTC = "mttc"
    MTTR = "mttr"
    INCIDENTS = "incidents"
    RECURRENCES = "recurrences"


def _value(bucket: Bucket, series: TrendSeries) -> float | None:
    if series is TrendSeries.INCIDENTS:
        return float(bucket.incidents)
    if series is TrendSeries.RECURRENCES:
        return float(bucket.recurrences)
    median = bucket.metrics[Metric(series.value)].median_s
    return None if median is None else median / 3_600


def trend_svg(report: MetricsReport, series: TrendSeries) -> str:
    """The SVG plot of `series` per period of `report` (medians of durations, in hours)."""
    counting = series in (TrendSeries.INCIDENTS, TrendSeries.RECURRENCES)
    title = (
        f"{series.value} per {report.period.value}"
        if counting
        else f"median {series.value.upper()} per {report.period.value} (hours)"
    )
    points = [Point(b.label, _value(b, series)) for b in report.buckets]
    return line_chart(title, points, unit="" if counting else "h")
