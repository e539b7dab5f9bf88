"""Signed acknowledgement links: genuine ones verify, forged or expired ones are refused."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fireline.oncall.links import ACK_KEY_ENV, LinkRefused, ack_key, sign, verify

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
KEY = b"k" * 32


def test_a_signed_link_verifies_to_its_page_until_it_expires() -> None:
    token = sign(42, NOW + timedelta(hours=1), KEY)
    assert verify(token, KEY, NOW) == 42
    with pytest.raises(LinkRefused, match="expired"):
        verify(token, KEY, NOW + timedelta(hours=1))


def test_a_link_signed_with_another_key_is_refused() -> None:
    token = sign(42, NOW + timedelta(hours=1), b"other key")
    with pytest.raises(LinkRefused, match="not valid"):
        verify(token, KEY, NOW)


def test_changing_the_page_or_the_expiry_of_a_link_breaks_its_signature() -> None:
    page, expiry, signature = sign(42, NOW + timedelta(hours=1), KEY).split(".")
    with pytest.raises(LinkRefused):
        verify(f"43.{expiry}.{signature}", KEY, NOW)
    with pytest.raises(LinkRefused):
        verify(f"{page}.{int(expiry) + 86400}.{signature}", KEY, NOW)


@pytest.mark.parametrize("token", ["", "42", "42.1.x", "0.1.abc", "a.b.c", "42.1." + "A" * 80])
def test_a_malformed_link_is_refused_without_error(token: str) -> None:
    with pytest.raises(LinkRefused, match="not valid"):
        verify(token, KEY, NOW)


def test_the_key_is_created_once_in_the_data_directory_readable_by_its_owner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ACK_KEY_ENV, raising=False)
    first = ack_key(tmp_path)
    assert ack_key(tmp_path) == first
    assert len(first) == 64
    assert stat.S_IMODE((tmp_path / "ack.key").stat().st_mode) == 0o600


def test_a_key_in_the_environment_wins_over_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ACK_KEY_ENV, "from-the-environment")
    assert ack_key(tmp_path) == b"from-the-environment"
    assert not (tmp_path / "ack.key").exists()
