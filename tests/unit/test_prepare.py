"""Before storage, calls are priced from the table and redacted as configured."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from fireline.config import Ingest, Price, Redaction
from fireline.domain.telemetry import Call
from fireline.ingest.prepare import REDACTION_KEY_ENV, CallPreparer, redaction_key

T0 = datetime(2026, 3, 2, tzinfo=UTC)
PRICES = {"gpt-4o": Price(input=2.5, output=10), "gpt-4o-mini": Price(input=0.15, output=0.6)}


def a_call(**fields) -> Call:
    return Call("c1", T0, "bot", **fields)


def test_the_longest_matching_model_prefix_sets_the_price():
    prepare = CallPreparer(Ingest(prices=PRICES), b"key")
    mini = prepare(a_call(model="gpt-4o-mini-2024-07-18", input_tokens=1_000_000, output_tokens=0))
    full = prepare(a_call(model="gpt-4o-2024-08-06", input_tokens=0, output_tokens=1_000_000))
    assert mini.cost_usd == pytest.approx(0.15)
    assert full.cost_usd == pytest.approx(10.0)


def test_the_request_model_prices_a_call_whose_answering_model_is_unknown():
    prepare = CallPreparer(Ingest(prices=PRICES), b"key")
    call = prepare(a_call(model="custom-x", request_model="gpt-4o", input_tokens=2_000_000))
    assert call.cost_usd == pytest.approx(5.0)


def test_a_cost_sent_by_the_app_is_kept_and_unknown_models_stay_unpriced():
    prepare = CallPreparer(Ingest(prices=PRICES), b"key")
    assert prepare(a_call(model="gpt-4o", input_tokens=10, cost_usd=1.23)).cost_usd == 1.23
    assert prepare(a_call(model="llama", input_tokens=10)).cost_usd is None
    assert prepare(a_call(model="gpt-4o")).cost_usd is None


def test_user_ids_are_hashed_with_the_deployment_key():
    one, other = CallPreparer(Ingest(), b"key-1"), CallPreparer(Ingest(), b"key-2")
    hashed = one(a_call(user="jane@example.com")).user
    assert hashed is not None
    assert hashed.startswith("u_")
    assert "jane" not in hashed
    assert one(a_call(user="jane@example.com")).user == hashed
    assert other(a_call(user="jane@example.com")).user != hashed
    assert one(a_call(user=hashed)).user == hashed  # a resent call is not hashed twice


def test_user_ids_are_kept_when_hashing_is_off():
    prepare = CallPreparer(Ingest(redaction=Redaction(hash_user_ids=False)), b"k")
    assert prepare(a_call(user="jane")).user == "jane"


def test_personal_data_in_text_is_masked_dropped_or_kept_as_configured():
    text = "reach me at jane@example.com"
    masked = CallPreparer(Ingest(), b"k")(a_call(input_text=text, output_text="fine"))
    assert masked.input_text == "reach me at [EMAIL]"
    assert masked.output_text == "fine"
    dropped = CallPreparer(Ingest(redaction=Redaction(pii="drop")), b"k")(a_call(input_text=text))
    assert dropped.input_text is None
    kept = CallPreparer(Ingest(redaction=Redaction(pii="keep")), b"k")(a_call(input_text=text))
    assert kept.input_text == text


def test_the_redaction_key_is_made_once_per_data_directory_and_kept_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv(REDACTION_KEY_ENV, raising=False)
    first = redaction_key(tmp_path)
    assert redaction_key(tmp_path) == first
    assert (tmp_path / "redaction.key").stat().st_mode & 0o077 == 0
    monkeypatch.setenv(REDACTION_KEY_ENV, "from-env")
    assert redaction_key(tmp_path) == b"from-env"
