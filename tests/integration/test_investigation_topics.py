"""Investigating an incident whose failures concentrate on one input topic: questions about
refunds start to fail while every other attribute of the calls stays the same. The topic of
the inputs must be what the affected calls have in common, named by its words, in Python and
in the API's JSON."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from fireline.clock import SimulatedClock
from fireline.investigate import investigator_for
from fireline.runtime import Fireline
from tests.conftest import T0

FEATURE = "support-bot"
QUESTIONS = {
    "refund": [
        "How do I get a refund for order {n}?",
        "I want a refund for order {n}, it never arrived",
        "Refund request for order {n}: the item was damaged",
        "When will the refund for order {n} reach my card?",
    ],
    "password": [
        "I forgot my password, how do I reset the password? ({n})",
        "The password reset link {n} does not work",
    ],
    "shipping": [
        "Where is my parcel {n}? The shipping tracking shows nothing",
        "Shipping tracking for parcel {n} is stuck",
    ],
    "invoice": [
        "Please send the invoice for purchase {n} as a PDF",
        "Where can I download the invoice for purchase {n}?",
    ],
}
SUBJECTS = list(QUESTIONS)


def test_failures_on_questions_about_refunds_make_the_topic_a_segment_in_common() -> None:
    clock = SimulatedClock(T0)
    app = Fireline.in_memory(clock)
    rng = np.random.default_rng(11)

    def minute(broken: bool) -> None:
        start, rows = clock.now(), []
        for i, at in enumerate(np.sort(rng.uniform(0, 60, 100)), start=1):
            subject = SUBJECTS[int(rng.integers(len(SUBJECTS)))]
            templates = QUESTIONS[subject]
            text = templates[int(rng.integers(len(templates)))].format(n=int(rng.integers(9999)))
            failed = (broken and subject == "refund" and rng.random() < 0.6) or (
                rng.random() < 0.004
            )
            rows.append(
                (
                    i,
                    {
                        "call_id": f"{start:%H%M}-{i}",
                        "time": (start + timedelta(seconds=float(at))).isoformat(),
                        "feature": FEATURE,
                        "tenant": "acme",
                        "model": "gpt-x",
                        "prompt_version": "v1",
                        "status": "error" if failed else "ok",
                        "error_type": "bad_format" if failed else None,
                        # some calls keep no input, or only what redaction left of it
                        "input_text": None if i % 17 == 0 else ("[EMAIL]" if i % 19 == 0 else text),
                    },
                )
            )
        app.ingest.ingest_rows(rows)
        clock.advance(60)

    try:
        for _ in range(120):
            minute(broken=False)
        app.tick()
        assert app.list_incidents() == []
        while not app.list_incidents():
            minute(broken=True)
            app.tick()
            assert clock.now() < T0 + timedelta(hours=3), "never detected"
        for _ in range(10):
            minute(broken=True)
        [incident] = app.list_incidents()
        assert incident.incident_id is not None
        with app.state.unit_of_work(read_only=True) as tx:
            found = investigator_for(app).investigate(tx, incident.incident_id, clock.now())
    finally:
        app.close()

    significant = [s for s in found.segments if s.significant]
    topics = [s for s in significant if s.dimension == "topic"]
    assert any("refund" in s.value.split() for s in topics), found.segments
    assert sum(s.share_affected for s in topics) >= 0.9
    assert not [s for s in significant if s.dimension != "topic"]
    assert not [s for s in topics if {"password", "shipping", "invoice"} & set(s.value.split())]
    refund = next(s for s in topics if "refund" in s.value.split())
    assert refund.lift > 1.5
    as_json = found.to_dict()["segments"]
    assert {"dimension": "topic", "value": refund.value, "significant": True}.items() <= next(
        s for s in as_json if s["value"] == refund.value
    ).items()
