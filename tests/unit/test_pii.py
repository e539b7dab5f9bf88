"""Personal data in text is found by kind and place, with checksums against look-alikes."""

import pytest

from fireline.detect.pii import find_pii, mask_pii


@pytest.mark.parametrize(
    ("text", "kind", "found"),
    [
        ("write to jane.doe+ai@example.co.uk today", "email", "jane.doe+ai@example.co.uk"),
        ("card 4111 1111 1111 1111 exp 12/29", "payment_card", "4111 1111 1111 1111"),
        ("pay to GB82 WEST 1234 5698 7654 32", "iban", "GB82 WEST 1234 5698 7654 32"),
        ("ssn 123-45-6789", "us_ssn", "123-45-6789"),
        ("client 192.168.10.20 connected", "ip_address", "192.168.10.20"),
        ("call +44 20 7946 0958 now", "phone", "+44 20 7946 0958"),
        ("call (555) 123-4567", "phone", "(555) 123-4567"),
    ],
)
def test_each_kind_of_personal_data_is_found_where_it_is(text, kind, found):
    [hit] = find_pii(text)
    assert hit.kind == kind
    assert text[hit.start : hit.end] == found


@pytest.mark.parametrize(
    "text",
    [
        "order 4111111111111112 shipped",  # fails the Luhn check
        "account GB00 WEST 1234 5698 7654 32",  # fails the IBAN checksum
        "at 2026-03-02 13:17:00 the job ran",
        "order 1234567890123 shipped",
        "version 300.1.2.4",
        "ssn 000-12-3456",
    ],
)
def test_look_alikes_are_not_personal_data(text):
    assert find_pii(text) == []


def test_masking_replaces_each_hit_by_its_kind():
    masked, count = mask_pii("mail a@b.io, card 4111-1111-1111-1111.")
    assert masked == "mail [EMAIL], card [PAYMENT_CARD]."
    assert count == 2
