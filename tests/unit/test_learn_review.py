"""The review draft from known facts: kill switch, suspected change, prompts, escaping, a
hand-made investigation and the signal plot; and the trend plot's SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from fireline.domain.alert import Alert
from fireline.domain.incident import Incident, IncidentState, IncidentType, TimelineEntry
from fireline.domain.severity import Severity
from fireline.domain.telemetry import Change, ChangeKind
from fireline.investigate.report import BlastRadius, Investigation, Onset
from fireline.investigate.segments import SegmentFinding
from fireline.investigate.suspects import Concentration, Suspect
from fireline.learn.actions import ActionCategory, ActionItem
from fireline.learn.metrics import IncidentFacts, Period, report
from fireline.learn.review import (
    NOT_COMPUTED,
    ReviewFacts,
    render_html,
    render_markdown,
    signal_plot,
)
from fireline.learn.signal import SignalSeries, plot_range
from fireline.learn.svg import Mark, Point, line_chart
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
    assert "Onset: 2026-03-02 08:40:00 UTC (from the earliest alert's evidence" in text
    assert "Detection delay (detection − onset): 20m" in text
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


SVG = "{http://www.w3.org/2000/svg}"
PROMPT_V2 = Change(
    change_id="prompt-v2",
    time=T - 25 * MINUTE,
    kind=ChangeKind.PROMPT,
    version="v2",
    feature="bot",
    previous_version="v1",
    description="new <answer> template",
)
FLAG = Change(change_id="flag-9", time=T - 3 * 60 * MINUTE, kind=ChangeKind.FLAG, version="on")


def investigation(**changes: object) -> Investigation:
    found = Investigation(
        incident_id=7,
        feature="bot",
        signal="error_rate",
        segment={},
        detected_at=T,
        onset=Onset(
            at=T - 24 * MINUTE,
            low=T - 26 * MINUTE,
            high=T - 22 * MINUTE,
            method="change_point",
            llr=48.25,
            before=0.004,
            after=0.15,
        ),
        suspects=[
            Suspect(
                PROMPT_V2,
                gap_s=60,
                proximity=0.98,
                concentration=Concentration(60, 60, 0, 900),
                score=0.99,
                rollback_target="v1",
            ),
            Suspect(FLAG, gap_s=9_360, proximity=0.03, concentration=None, score=0.14),
        ],
        segments=[
            SegmentFinding("tenant", "acme", 58, 230, 0.97, 0.26, 3.7, 1e-30, 1e-29),
            SegmentFinding("locale", "en-US", 6, 700, 0.1, 0.78, 0.13, 1.0, 1.0),
        ],
        blast=BlastRadius(
            calls=60,
            users=23,
            tenants=1,
            first=T - 23 * MINUTE,
            last=T + 80 * MINUTE,
            until=T + 95 * MINUTE,
            live=False,
            why="status = 'error'",
        ),
        notes=[],
    )
    return replace(found, **changes)  # type: ignore[arg-type]


def signals() -> list[SignalSeries]:
    start, stop = plot_range(T - 24 * MINUTE, T + 95 * MINUTE)
    minutes = int((stop - start).total_seconds() // 60)
    values: list[float | None] = [
        0.15 if T - 24 * MINUTE <= start + i * MINUTE < T + 95 * MINUTE else 0.004
        for i in range(minutes)
    ]
    values[3] = None
    return [SignalSeries("error_rate", "rate", start, 60, values)]


def investigated(**changes: object) -> ReviewFacts:
    timeline = [
        TimelineEntry(7, T + 5 * MINUTE, "ana", "guard_set", "degrade", {"level": 2}),
        TimelineEntry(7, T + 9 * MINUTE, "bo", "routing", "bot: prompt pinned to v1"),
    ]
    base = facts(
        investigation=investigation(),
        investigation_problem="–",
        signals=signals(),
        timeline=timeline,
        retrieval_monitoring=["the grounding scanner flagged 4 call(s)"],
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_the_draft_takes_onset_blast_radius_suspects_and_segments_from_the_investigation() -> None:
    text = render_markdown(investigated())
    assert (
        "Onset: 2026-03-02 08:36:00 UTC (estimated from the signal: 95 % interval "
        "2026-03-02 08:34:00 UTC to 2026-03-02 08:38:00 UTC; change point with "
        "log-likelihood ratio 48.2" in text
    )
    assert "Detection delay (detection − onset): 24m" in text
    assert "60 affected calls, 23 users, 1 tenants" in text
    assert "1. prompt v2 (was v1), id prompt-v2" in text
    assert "Time gap: deployed 1m before the onset" in text
    assert "100% of the affected calls ran it against 0% of the baseline calls" in text
    assert "rollback available (to v1)" in text
    assert "2. flag on" in text
    assert "concentration not measurable" in text
    assert "Rollback used:\n  - 2026-03-02 09:09:00 UTC, bo: bot: prompt pinned to v1" in text
    assert "- tenant = acme: 97% of the affected calls (58) against 26% of the baseline" in text
    assert "en-US" not in text  # not significant
    assert NOT_COMPUTED not in text


def test_the_ai_questions_are_answered_from_scanners_guards_and_the_top_suspect() -> None:
    text = render_markdown(investigated())
    assert "Yes: the grounding scanner flagged 4 call(s)" in text
    assert "Available but not used: the feature's guard was set 1 time(s) (highest level 2)" in text
    model = investigation(
        suspects=[Suspect(replace(PROMPT_V2, kind=ChangeKind.MODEL), 60, 1.0, None, 0.6)]
    )
    text = render_markdown(investigated(investigation=model, retrieval_monitoring=[]))
    assert "The top suspect is a model change (v2)" in text
    assert "No grounding or index-related scanner or detector produced alerts or hits" in text


def test_a_failed_investigation_leaves_those_parts_not_computed() -> None:
    failed = investigated(
        investigation=None,
        investigation_problem="the investigation failed: RuntimeError",
        signals=[],
        signals_problem="no calls of the feature are in fireline's telemetry around the incident",
    )
    text = render_markdown(failed)
    assert f"{NOT_COMPUTED} (the investigation failed: RuntimeError)" in text
    assert "Ranked suspects: not computed (the investigation failed: RuntimeError)" in text
    assert "prompt v2 (was v1)" in text  # the change window's suspect stands in
    assert "- Not computed (the investigation failed: RuntimeError)." in text
    assert "Signal plot: not computed (no calls of the feature" in text
    assert "Onset: 2026-03-02 08:40:00 UTC (from the earliest alert's evidence" in text
    assert signal_plot(failed) is None
    page = render_html(failed)
    assert "<svg" not in page
    assert "Signal plot: not computed" in page


def test_an_investigation_without_affected_calls_says_not_computed() -> None:
    empty = investigation(
        blast=BlastRadius(0, 0, 0, None, None, T + 95 * MINUTE, False, "status = 'error'"),
        segments=[],
        suspects=[],
        onset=Onset(T - 30 * MINUTE, T - 30 * MINUTE, T, "alert_window"),
    )
    text = render_markdown(investigated(investigation=empty))
    assert "no affected call of the feature is in fireline's telemetry" in text
    assert "Onset: 2026-03-02 08:40:00 UTC (from the earliest alert's evidence; the signal " in text
    assert "Suspected change (the newest change" in text


def test_the_html_draft_embeds_the_signal_plot_with_the_milestones_marked() -> None:
    page = render_html(investigated())
    figure = page[page.index('<figure class="signal">') : page.index("</figure>")]
    svg = figure[figure.index("<svg") : figure.rindex("</svg>") + len("</svg>")]
    root = ET.fromstring(svg)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert {"onset", "detected", "resolved"} <= set(texts)
    assert "contained" not in texts  # never contained
    assert len(root.findall(f"{SVG}polyline")) == 2  # the gap splits the line
    assert root.findall(f"{SVG}circle") == []
    assert "error_rate (failure rate per 60s)" in svg
    assert "new &lt;answer&gt; template" in page


def test_the_markdown_draft_refers_to_the_plot_file_it_is_given() -> None:
    text = render_markdown(investigated(), plot_file="review-7-signal.svg")
    assert "](review-7-signal.svg)" in text
    assert "--html" in render_markdown(investigated())


def test_several_signals_are_stacked_in_one_svg() -> None:
    [one] = signals()
    latency = replace(one, signal="latency", kind="metric", segment={"tenant": "acme"})
    svg = signal_plot(investigated(signals=[one, latency]))
    assert svg is not None
    root = ET.fromstring(svg)
    assert len(root.findall(f"{SVG}svg")) == 2
    assert "latency (mean per 60s; tenant=acme)" in svg


def test_marks_outside_the_chart_are_left_out() -> None:
    points = [Point(str(i), float(i)) for i in range(10)]
    svg = line_chart("t", points, marks=[Mark("in", 4.5), Mark("out", 12)], dots=False)
    assert ">in</text>" in svg
    assert ">out</text>" not in svg
