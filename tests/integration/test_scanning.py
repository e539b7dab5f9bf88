"""Content scanning end to end: calls stored, scanned once, hits counted by detection and
listed by the API (served on loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from fireline.clock import SimulatedClock
from fireline.config import Config, parse_config
from fireline.domain.access import Role
from fireline.domain.telemetry import Call
from fireline.errors import ConfigError
from fireline.runtime import Fireline
from fireline.scan.answers import AnswerScanner
from fireline.scan.config import Scanning
from fireline.scan.leaks import PromptLeakScanner
from fireline.scan.runner import ScanService
from fireline.store.scans import ScanStore
from fireline.tokens import issue_token
from tests.conftest import T0

CANARY = "FLCANARY-00112233aabbccdd"


def a_call(n: int, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "call_id": f"c{n}",
        "time": (T0 + timedelta(seconds=n)).isoformat(),
        "feature": "support-bot",
        "status": "ok",
        "tenant": "globex",
        "input_text": "When do you open on Sundays?",
        "output_text": "We open at 10 on Sundays.",
    }
    row.update(overrides)
    return row


@pytest.fixture
def client(deployment: tuple[Fireline, SimulatedClock], base_url: str) -> Iterator[httpx.Client]:
    app, clock = deployment
    token = issue_token(app.state, "admin", Role.ADMIN, now=clock.now())
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}) as http:
        yield http


def test_calls_are_scanned_at_the_next_tick_and_their_hits_listed_per_call(
    client: httpx.Client, deployment: tuple[Fireline, SimulatedClock]
) -> None:
    app, clock = deployment
    rows = [a_call(1), a_call(2, output_text=f"My instructions say {CANARY}: be kind.")]
    rows.append(a_call(3, output_text="I'm sorry, but I can't help with that."))
    assert client.post("/v1/calls", json={"calls": rows}).status_code == 200
    clock.advance(120)
    app.tick()

    assert client.get("/api/calls/c1/hits").json() == []
    leak = client.get("/api/calls/c2/hits").json()
    assert [(h["scanner"], h["kind"], h["part"]) for h in leak] == [
        ("prompt_leak", "system_prompt_canary", "output")
    ]
    text = rows[1]["output_text"]
    assert text[leak[0]["start"] : leak[0]["end"]] == CANARY
    assert CANARY not in str(leak)  # hits locate the secret, never copy it
    refused = client.get("/api/scans/hits", params={"scanner": "answer"}).json()
    assert [(h["call_id"], h["kind"]) for h in refused] == [("c3", "refusal")]
    counts = client.get("/api/scans/counts").json()
    assert {(c["scanner"], c["kind"], c["calls"]) for c in counts} == {
        ("prompt_leak", "system_prompt_canary", 1),
        ("answer", "refusal", 1),
    }


def test_an_unknown_call_and_an_unscanned_one_answer_404_with_the_reason(
    client: httpx.Client,
) -> None:
    client.post("/v1/calls", json={"calls": [a_call(1)]})

    unknown = client.get("/api/calls/nope/hits")
    unscanned = client.get("/api/calls/c1/hits")

    assert unknown.status_code == 404
    assert "no call" in unknown.json()["detail"]
    assert unscanned.status_code == 404
    assert "not scanned" in unscanned.json()["detail"]


def test_a_call_is_scanned_once_however_often_scanning_runs_or_restarts(
    deployment: tuple[Fireline, SimulatedClock],
) -> None:
    app, clock = deployment
    calls = [
        Call(call_id=f"c{i}", time=T0 + timedelta(seconds=i), feature="f", output_text=CANARY)
        for i in range(50)
    ]
    app.ingest.ingest_calls(calls)
    clock.advance(60)

    first = app.scans.catch_up(clock.now())
    again = app.scans.catch_up(clock.now())
    restarted = ScanService(ScanStore(app.telemetry), app.config.scanners)
    after_restart = restarted.catch_up(clock.now())

    assert (first.scanned, again.scanned, after_restart.scanned) == (50, 0, 0)
    assert len(app.scans.store.list_hits(limit=1_000)) == 50


def test_sampled_mode_scans_about_its_share_and_the_same_calls_every_time(
    deployment: tuple[Fireline, SimulatedClock],
) -> None:
    app, clock = deployment
    calls = [
        Call(call_id=f"s{i}", time=T0 + timedelta(seconds=i % 600), feature="f", output_text="ok")
        for i in range(4_000)
    ]
    app.ingest.ingest_calls(calls)
    clock.advance(3_600)
    sampled = Scanning(mode="sampled", sample_rate=0.1)

    one, _ = ScanService(ScanStore(app.telemetry), sampled).store.pending(
        T0, sample_rate=0.1, limit=10_000
    )
    report = ScanService(ScanStore(app.telemetry), sampled).catch_up(clock.now())

    assert 300 <= report.scanned <= 500  # 10 % of 4,000, give or take the hash's luck
    assert {c.call_id for c in one} == {
        f"s{i}" for i in range(4_000) if app.scans.store.is_scanned(f"s{i}", 0.1)
    }


class _Broken:
    name = "broken"

    def scan(self, call: Call) -> list[Any]:
        raise RuntimeError("bug")


def test_a_call_stored_late_is_scanned_in_the_next_round_and_an_old_store_from_its_horizon(
    deployment: tuple[Fireline, SimulatedClock],
) -> None:
    app, clock = deployment
    old = [Call(call_id=f"old{i}", time=T0, feature="f", output_text=CANARY) for i in range(5)]
    app.ingest.ingest_calls(old)
    clock.advance(3 * 86_400)
    recent = Call(call_id="recent", time=clock.now(), feature="f", output_text=CANARY)
    app.ingest.ingest_calls([recent])

    first = app.scans.catch_up(clock.now())  # horizon: a day; the old calls are history
    late = Call(call_id="late", time=clock.now() - timedelta(hours=20), feature="f")
    app.ingest.ingest_calls([late])
    second = app.scans.catch_up(clock.now())

    assert (first.scanned, second.scanned) == (1, 1)
    assert app.scans.store.is_scanned("late")
    assert not app.scans.store.is_scanned("old0")


def test_a_failing_scanner_skips_its_calls_without_stopping_the_other_scanners(
    deployment: tuple[Fireline, SimulatedClock],
) -> None:
    app, clock = deployment
    app.ingest.ingest_calls(
        [Call(call_id="b1", time=T0, feature="f", output_text=f"leaked {CANARY}")]
    )
    clock.advance(60)
    service = ScanService(
        ScanStore(app.telemetry), scanners=[_Broken(), PromptLeakScanner(), AnswerScanner()]
    )

    report = service.catch_up(clock.now())

    assert report.scanned == 1
    assert report.errors == {"broken": 1}
    assert [h.kind for h in service.store.hits_of("b1")] == ["system_prompt_canary"]


def test_documents_registered_through_the_api_reveal_a_cross_tenant_leak(
    client: httpx.Client, deployment: tuple[Fireline, SimulatedClock]
) -> None:
    app, clock = deployment
    docs = [
        {"doc_id": "acme-pricing", "tenant": "acme", "source": "drive"},
        {"doc_id": "faq-1", "source": "help-center", "published": T0.isoformat()},
    ]
    assert client.post("/v1/documents", json={"documents": docs}).json()["accepted"] == 2
    rows = [a_call(1, retrieved_doc_ids=["faq-1", "acme-pricing"], cited_doc_ids=["faq-9"])]
    client.post("/v1/calls", json={"calls": rows})
    clock.advance(60)
    app.tick()

    hits = {(h["scanner"], h["kind"], h["detail"]) for h in client.get("/api/calls/c1/hits").json()}

    assert ("tenant_leak", "foreign_document", "acme-pricing") in hits
    assert ("grounding", "citation_unknown", "faq-9") in hits


def test_without_registered_documents_no_citation_is_called_unknown(
    client: httpx.Client, deployment: tuple[Fireline, SimulatedClock]
) -> None:
    app, clock = deployment
    rows = [
        a_call(1, retrieved_doc_ids=["faq-1", "faq-2"], cited_doc_ids=["faq-1"]),
        a_call(2, retrieved_doc_ids=["faq-1"], cited_doc_ids=["faq-7"]),
    ]
    client.post("/v1/calls", json={"calls": rows})
    clock.advance(60)
    app.tick()

    first = {(h["kind"], h["detail"]) for h in client.get("/api/calls/c1/hits").json()}
    second = {(h["kind"], h["detail"]) for h in client.get("/api/calls/c2/hits").json()}

    assert first == set()  # an empty store is a knowledge base nobody registered
    assert second == {("citation_not_retrieved", "faq-7")}


def test_a_bad_document_is_refused_naming_the_row_and_field(client: httpx.Client) -> None:
    docs = [{"doc_id": "ok"}, {"doc_id": "bad", "published": "yesterday-ish"}]

    answer = client.post("/v1/documents", json={"documents": docs})

    assert answer.status_code == 422
    assert answer.json()["problems"][0]["row"] == 2
    assert "published" in answer.json()["problems"][0]["field"]


def test_a_prompt_leak_that_starts_after_a_clean_day_raises_an_alert_on_its_hit_rate() -> None:
    clock = SimulatedClock(T0)
    app = Fireline.in_memory(clock)
    minute = 0
    for minute in range(24 * 60 + 30):
        leaking = minute >= 24 * 60
        calls = [
            Call(
                call_id=f"m{minute}-{i}",
                time=T0 + timedelta(minutes=minute, seconds=i * 3),
                feature="support-bot",
                output_text=f"Here you go {CANARY}" if leaking and i % 4 == 0 else "Here you go",
            )
            for i in range(20)
        ]
        app.ingest.ingest_calls(calls)
        if minute % 60 == 59 or leaking:
            clock.set(T0 + timedelta(minutes=minute + 1))
            result = app.tick()
            alerts = [a for a in result.alerts if a.signal == "scan.prompt_leak"]
            if alerts:
                break
    else:
        pytest.fail("no alert on scan.prompt_leak")

    assert minute - 24 * 60 <= 5  # within five minutes of the first leak
    assert alerts[0].segment == {}
    assert alerts[0].incident_type == "safety"
    app.close()


def test_an_unknown_scanner_or_setting_in_the_config_names_the_line() -> None:
    with pytest.raises(ConfigError) as unknown:
        parse_config("scanners:\n  enabled: [pii, spellcheck]\n", source="fireline.yaml")
    with pytest.raises(ConfigError) as setting:
        parse_config(
            "scanners:\n  settings:\n    grounding:\n      max_age: 3\n", source="fireline.yaml"
        )

    assert "spellcheck" in str(unknown.value)
    assert "fireline.yaml" in str(unknown.value)
    assert "max_age" in str(setting.value)
    assert ":2" in str(setting.value)


def test_configured_scanner_settings_reach_the_scanners() -> None:
    config = parse_config(
        "scanners:\n  enabled: [prompt_leak]\n  settings:\n"
        "    prompt_leak:\n      canaries: [orange-cat-42]\n"
    )
    clock = SimulatedClock(T0)
    app = Fireline.in_memory(clock, config=config)
    app.ingest.ingest_calls([Call(call_id="x", time=T0, feature="f", output_text="orange-cat-42")])
    clock.advance(60)
    app.tick()

    assert [s.name for s in app.scans.scanners] == ["prompt_leak"]
    assert [h.detail for h in app.scans.store.hits_of("x")] == [""]
    assert isinstance(Config().scanners, Scanning)
    app.close()


def test_a_contained_feature_has_every_call_scanned_while_rates_stay_on_the_sample(
    deployment: tuple[Fireline, SimulatedClock],
) -> None:
    from fireline.detect.signals import SignalReader
    from fireline.domain.guard import ContainmentLevel, Guard

    app, clock = deployment
    app.config = parse_config("scanners: {mode: sampled, sample_rate: 0.1}")  # type: ignore[misc]
    calls = [
        Call(
            call_id=f"{feature}-{i}",
            time=T0 + timedelta(seconds=i % 600),
            feature=feature,
            output_text="Write to jane.doe@example.com",
        )
        for feature in ("contained", "normal")
        for i in range(2_000)
    ]
    app.ingest.ingest_calls(calls)
    clock.advance(3_600)
    with app.state.unit_of_work() as tx:
        tx.put_guard(Guard("contained", ContainmentLevel.WARN, updated_at=clock.now()))

    app.tick()

    scanned = dict.fromkeys(("contained", "normal"), 0)
    for hit in app.scans.store.list_hits(limit=10_000):
        scanned[hit.call_id.split("-")[0]] += 1
    assert scanned["contained"] == 2_000  # every call: monitoring tightened
    assert 100 <= scanned["normal"] <= 300  # the 10 % sample
    reader = SignalReader(app.telemetry, app.config.detection, scanners=["pii"], scan_rate=0.1)
    series = reader.read(T0, T0 + timedelta(minutes=10))
    rates = [
        w.total / w.n
        for key, windows in series.items()
        if key.feature == "contained" and key.signal == "scan.pii" and not key.segment
        for w in windows.values()
        if w.n
    ]
    assert rates
    assert all(rate == 1.0 for rate in rates)  # hits / sampled calls, not more
