"""The review draft from known facts: kill switch, suspected change, prompts, escaping; and
the trend plot's SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from fireline.domain.alert import Alert
from fireline.domain.incident import Incident, IncidentState, IncidentType, TimelineEntry
from fireline.domain.severity import Severity
from fireline.domain.telemetry import Change, ChangeKind
from fireline.learn.actions import ActionCategory, ActionItem
from fireline.learn.metrics import IncidentFacts, Period, report
from fireline.learn.review import NOT_COMPUTED, ReviewFacts, render_html, render_markdown
from fireline.learn.svg import Point, line_chart
from fireline.learn.trend import TrendSeries, trend_svg

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def facts(**changes: object) -> ReviewFacts:
    incident = replace(
        Incident.detected(
            feature="bot",
            type=IncidentType.SAFETY,
            severity=Severity.P1,
            title="<b>prompt leak</b>",
            at=T,
        ),
        incident_id=7,
        state=IncidentState.RESOLVED,
        state_times={IncidentState.DETECTED: T, IncidentState.RESOLVED: T + 95 * MINUTE},
        acknowledged_at=T + 70 * MINUTE,
    )
    alert = Alert(
        detector="pii",
        feature="bot",
        signal="pii_rate",
        incident_type=IncidentType.SAFETY,
        fired_at=T - MINUTE,
        window_start=T - 30 * MINUTE,
        window_end=T - MINUTE,
        baseline_value=0.0,
        current_value=0.1,
        p_value=0.001,
        evidence={"onset": (T - 20 * MINUTE).isoformat()},
    )
    base = ReviewFacts(
        incident=incident,
        timeline=[
            TimelineEntry(7, T + 5 * MINUTE, "ana", "guard_set", "kill", {"level": 4}),
        ],
        alerts=[alert],
        suspected_change=Change(
            change_id="c1",
            time=T - 30 * MINUTE,
            kind=ChangeKind.PROMPT,
            version="v2",
            feature="bot",
            previous_version="v1",
        ),
        prompt_changes=[],
        actions=[
            ActionItem(7, "add a canary", ActionCategory.DETECTION, "ana", T, T, due=T, item_id=1)
        ],
        change_window=timedelta(hours=2),
        generated_at=T + timedelta(days=1),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_the_draft_states_what_fireline_knows_and_leaves_the_rest_to_people() -> None:
    text = render_markdown(facts())
    assert "Onset (earliest alert's evidence): 2026-03-02 08:40:00 UTC" in text
    assert "MTTD (onset to detection): 20m" in text
    assert "acknowledgement: missed by 10m" in text  # P1: within 1 hour
    assert "prompt v2 (was v1)" in text
    assert "Yes: ana set the guard to level 4" in text
    assert NOT_COMPUTED in text
    assert "#1 add a canary (detection; owner unassigned" in text
    assert "OVERDUE" in text
    assert "(to be answered by the review's authors)" in text


def test_without_a_kill_switch_or_change_the_draft_asks_people() -> None:
    text = render_markdown(facts(timeline=[], suspected_change=None, actions=[]))
    assert "No guard at level 4 or above" in text
    assert "Suspected change: none recorded in the 2.0h before detection" in text
    assert "None yet" in text


def test_the_html_draft_escapes_what_people_wrote() -> None:
    page = render_html(facts())
    assert "&lt;b&gt;prompt leak&lt;/b&gt;" in page
    assert "<b>prompt leak</b>" not in page


def test_the_trend_plot_is_well_formed_svg_with_one_point_per_period() -> None:
    rows = [
        IncidentFacts(
            replace(
                Incident.detected(
                    feature="bot", type=IncidentType.QUALITY, severity=Severity.P2, title="t", at=at
                ),
                incident_id=n,
                state_times={IncidentState.DETECTED: at, IncidentState.RESOLVED: at + MINUTE * n},
            )
        )
        for n, at in enumerate([T, T + timedelta(days=40), T + timedelta(days=70)], start=1)
    ]
    svg = trend_svg(report(rows, Period.MONTH), TrendSeries.MTTR)
    root = ET.fromstring(svg)
    circles = root.findall("{http://www.w3.org/2000/svg}circle")
    assert len(circles) == 3
    assert "median MTTR per month" in svg


def test_a_chart_without_data_says_so_and_escapes_its_labels() -> None:
    svg = line_chart("a <title>", [Point("<x>", None)])
    ET.fromstring(svg)
    assert "no data" in svg
    assert "&lt;x&gt;" in svg
