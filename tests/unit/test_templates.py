"""Message templates: each audience's template says what happened, who is affected, what was
done and how it will be prevented; users can replace them; HTML is escaped; the sandbox holds."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from fireline.domain.alert import Alert
from fireline.domain.incident import Incident, IncidentState, IncidentType, TimelineEntry
from fireline.domain.severity import Severity
from fireline.errors import NotFound
from fireline.notify.templates import TEMPLATES, TemplateProblem, Templates, incident_context
from tests.conftest import T0


def an_incident(title: str = "support-bot answers fail") -> Incident:
    detected = Incident.detected(
        feature="support-bot",
        type=IncidentType.AVAILABILITY,
        severity=Severity.P1,
        title=title,
        at=T0,
    )
    return replace(detected, incident_id=42).transition(
        IncidentState.TRIAGED, T0 + timedelta(minutes=2)
    )


def a_context(incident: Incident | None = None, **extra):
    incident = incident or an_incident()
    alert = Alert(
        detector="error_rate",
        feature="support-bot",
        signal="error_rate",
        incident_type=IncidentType.AVAILABILITY,
        fired_at=T0,
        window_start=T0 - timedelta(minutes=5),
        window_end=T0,
        baseline_value=0.01,
        current_value=0.6,
        p_value=1e-9,
        evidence={"calls": 600},
        segment={"tenant": "acme"},
    )
    entry = TimelineEntry(42, T0 + timedelta(minutes=3), "auto", "guard", "Kill switch set")
    return incident_context(
        incident,
        now=T0 + timedelta(minutes=40),
        timeline=[entry],
        alerts=[alert],
        prevention=extra.pop("prevention", ["Add a canary for prompt deploys"]),
        **extra,
    )


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_shipped_template_covers_the_four_questions(name):
    rendered = Templates().render(name, a_context())

    text = rendered.text.lower()
    assert rendered.title
    assert rendered.body
    assert "support-bot" in text
    assert "happened" in text or "nature of the incident" in text
    assert "affected" in text
    assert "done" in text or "doing" in text or "measures taken" in text
    assert "prevent" in text


def test_the_internal_notification_gives_responders_the_evidence_and_the_actions():
    rendered = Templates().render("internal", a_context())

    assert rendered.title == "[P1] #42 support-bot answers fail (support-bot, triaged)"
    assert "tenant=acme" in rendered.body
    assert "0.01 → 0.6" in rendered.body
    assert "Kill switch set" in rendered.body
    assert "Add a canary for prompt deploys" in rendered.body
    assert "40 min ago" in rendered.body


def test_the_status_update_tells_users_nothing_internal():
    rendered = Templates().render("status_update", a_context())

    assert "tenant=acme" not in rendered.text
    assert "error_rate" not in rendered.text
    assert "Kill switch" not in rendered.text
    assert rendered.title.startswith("Investigating:")


def test_a_resolved_incident_reads_as_resolved_to_users_and_executives():
    incident = an_incident().transition(IncidentState.RESOLVED, T0 + timedelta(minutes=95))

    status = Templates().render("status_update", a_context(incident))
    brief = Templates().render("exec_brief", a_context(incident))

    assert status.title.startswith("Resolved:")
    assert "resolved 2026-03-02 10:35 UTC after 1 h 35 min" in brief.body


def test_without_prevention_items_the_templates_promise_a_review():
    rendered = Templates().render("regulatory_report", a_context(prevention=[]))

    assert "post-incident review" in rendered.body


def test_html_templates_escape_what_they_insert_and_text_templates_do_not():
    context = a_context(an_incident(title="<script>alert(1)</script> & co"))

    html = Templates().render("status_update.html", context)
    text = Templates().render("internal", context)

    assert "&lt;script&gt;" in html.body
    assert "<script>" not in html.body
    assert "<script>alert(1)</script> & co" in text.title


def test_a_user_template_replaces_the_shipped_one_of_the_same_name(tmp_path):
    (tmp_path / "exec_brief.j2").write_text("Brief for {{ incident.feature }}\n\nOurs.\n")
    (tmp_path / "board.j2").write_text("Board note #{{ incident.id }}\n\nHello.\n")
    templates = Templates(tmp_path)

    assert templates.render("exec_brief", a_context()).title == "Brief for support-bot"
    assert templates.render("board", a_context()).title == "Board note #42"
    assert templates.render("internal", a_context()).title.startswith("[P1] #42")
    assert {"board", "exec_brief", "internal"} <= set(templates.names())


def test_a_misspelt_name_in_a_user_template_is_an_error_with_its_line(tmp_path):
    (tmp_path / "internal.j2").write_text("Title\n\nline two\n{{ incident.titel }}\n")

    with pytest.raises(TemplateProblem) as raised:
        Templates(tmp_path).render("internal", a_context())

    assert "titel" in str(raised.value)
    assert raised.value.problems[0].row == 4


def test_a_broken_user_template_names_file_and_line(tmp_path):
    (tmp_path / "internal.j2").write_text("Title\n{% if %}\n")

    with pytest.raises(TemplateProblem) as raised:
        Templates(tmp_path).render("internal", a_context())

    assert "internal.j2" in str(raised.value)
    assert "line 2" in str(raised.value)


def test_the_sandbox_keeps_templates_away_from_python_internals(tmp_path):
    (tmp_path / "evil.j2").write_text("{{ incident.__class__.__mro__[1].__subclasses__() }}\n")

    with pytest.raises(TemplateProblem, match=r"unsafe|has no attribute"):
        Templates(tmp_path).render("evil", a_context())


@pytest.mark.parametrize("name", ["nope", "../etc/passwd", ".hidden"])
def test_an_unknown_template_is_not_found(name):
    with pytest.raises(NotFound):
        Templates().render(name, a_context())


def test_the_status_update_promises_the_next_update_at_the_cadence():
    with_cadence = Templates().render("status_update", a_context(next_update_minutes=15))
    without = Templates().render("status_update", a_context())

    assert "Next update: within 15 minutes" in with_cadence.body
    assert "Next update: as soon as we know more" in without.body
