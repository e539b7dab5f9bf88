"""Shortcuts on the ingest path give exactly what the long way does."""

from __future__ import annotations

import gc
import hashlib
import hmac
import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fireline.config import Ingest
from fireline.detect.pii import find_pii
from fireline.ingest import gcpause
from fireline.ingest.gcpause import collector_paused
from fireline.ingest.prepare import CallPreparer, _may_hold_pii
from fireline.ingest.schema import derived_id

texts = st.text(alphabet="ab @-.+()0123456789٣\u0660 é\n", max_size=60)


@settings(max_examples=500)
@given(texts)
def test_text_that_may_hold_personal_data_is_found_as_the_regular_expression_finds_it(
    text: str,
) -> None:
    assert _may_hold_pii(text) == bool(re.search(r"[@\d]", text))


@given(texts)
def test_text_passed_over_holds_no_personal_data(text: str) -> None:
    if not _may_hold_pii(text):
        assert find_pii(text) == []


def test_redaction_still_masks_what_it_masked() -> None:
    prepare = CallPreparer(Ingest(), b"key")
    assert prepare.redact_text("mail jane@example.com now") == "mail [EMAIL] now"
    assert prepare.redact_text("just words") == "just words"
    assert prepare.redact_text("call +44 20 7946 0958") == "call [PHONE]"
    assert prepare.redact_text("٣") == "٣"  # a digit, but no personal data


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=10)
    | st.datetimes().map(str),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=10,
)


@settings(max_examples=300)
@given(json_values, st.integers(min_value=1, max_value=10**6))
def test_derived_ids_are_those_of_the_canonical_json_dump(raw: Any, position: int) -> None:
    canonical = json.dumps([position, raw], sort_keys=True, separators=(",", ":"), default=str)
    assert (
        derived_id("c_", raw, position)
        == "c_" + hashlib.sha256(canonical.encode()).hexdigest()[:32]
    )


def test_a_value_json_cannot_hold_fails_as_json_dumps_fails() -> None:
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    with pytest.raises(ValueError, match="Circular reference"):
        derived_id("c_", cyclic, 1)
    with pytest.raises(TypeError):
        derived_id("c_", {1: 2, "a": 3}, 1)  # keys json.dumps cannot sort


def test_overlapping_batches_still_have_young_garbage_collected(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    collected: list[int] = []
    monkeypatch.setattr(gcpause.gc, "collect", lambda generation=2: collected.append(generation))
    now = [0.0]
    monkeypatch.setattr(gcpause.time, "monotonic", lambda: now[0])
    assert gc.isenabled()
    first = collector_paused()
    first.__enter__()
    for _ in range(3):  # each batch starts before the one before it ends
        now[0] += gcpause.YOUNG_EVERY_S
        second = collector_paused()
        second.__enter__()
        first.__exit__(None, None, None)
        first = second
    assert not gc.isenabled()
    now[0] += gcpause.ALL_EVERY_S
    third = collector_paused()
    third.__enter__()
    first.__exit__(None, None, None)
    third.__exit__(None, None, None)
    assert gc.isenabled()
    assert collected == [1, 1, 1, 2]


@pytest.mark.parametrize("key", [b"", b"k", b"x" * 64, b"y" * 65, b"z" * 200])
@given(user=st.text(max_size=20))
def test_user_ids_are_hashed_with_hmac_sha256_of_the_redaction_key(key: bytes, user: str) -> None:
    expected = "u_" + hmac.new(key, user.encode(), hashlib.sha256).hexdigest()[:32]
    if not (user.startswith("u_") and len(user) == 34):
        assert CallPreparer(Ingest(), key).hash_user(user) == expected
