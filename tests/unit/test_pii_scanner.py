"""The PII and secrets scanner: each kind found where it is, checksum failures left alone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fireline.domain.telemetry import Call
from fireline.scan.base import Part
from fireline.scan.pii import PiiScanner, find_pii

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def call(output: str | None = None, prompt: str | None = None) -> Call:
    return Call(call_id="c", time=T0, feature="f", input_text=prompt, output_text=output)


def found(text: str) -> list[tuple[str, str]]:
    """(kind, matched text) of every finding in `text`."""
    return [(span.kind, text[span.start : span.end]) for span in find_pii(text)]


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        (
            "Write to jane.doe+billing@example.co.uk today.",
            "email",
            "jane.doe+billing@example.co.uk",
        ),
        ("Call me at +44 20 7946 0958 tomorrow.", "phone", "+44 20 7946 0958"),
        ("Our desk: (415) 555-0132 ext", "phone", "(415) 555-0132"),
        ("Phone:\n0431 19 97 94", "phone", "0431 19 97 94"),
        ("The card 4111 1111 1111 1111 was declined.", "payment_card", "4111 1111 1111 1111"),
        ("Amex 378282246310005 on file.", "payment_card", "378282246310005"),
        ("IBAN GB82 WEST 1234 5698 7654 32 please.", "iban", "GB82 WEST 1234 5698 7654 32"),
        ("Pay to DE89370400440532013000.", "iban", "DE89370400440532013000"),
        ("His SSN is 536-22-1234.", "us_ssn", "536-22-1234"),
        ("social security number 536221234", "us_ssn", "536221234"),
        ("Blocked from 203.0.113.42, sorry.", "ip_address", "203.0.113.42"),
        ("Host 2001:db8::8a2e:370:7334 is down.", "ip_address", "2001:db8::8a2e:370:7334"),
        ("Key AKIAIOSFODNN7EXAMPLE leaked.", "api_key", "AKIAIOSFODNN7EXAMPLE"),
        (
            "token ghp_" + "a1B2c3D4e5" * 3 + "a1B2c3 here",
            "api_key",
            "ghp_" + "a1B2c3D4e5" * 3 + "a1B2c3",
        ),
        (
            "use sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc" + " now",
            "api_key",
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        ),
        ("slack xoxb-123456789012-abcdefABCDEF ok", "api_key", "xoxb-123456789012-abcdefABCDEF"),
        (
            "OPENAI_API_KEY sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8t",
            "api_key",
            "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8t",
        ),
        ("gitlab glpat-xY7zAb3cDe9fGh1iJk2L ok", "api_key", "glpat-xY7zAb3cDe9fGh1iJk2L"),
    ],
)
def test_each_kind_is_found_with_its_exact_span(text: str, kind: str, value: str) -> None:
    assert (kind, value) in found(text)


def test_a_private_key_block_is_found_from_begin_to_end() -> None:
    block = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----"
    assert found(f"here:\n{block}\nbye") == [("private_key", block)]


def test_a_jwt_is_found_as_one_token() -> None:
    jwt = (
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0"
        ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
    )
    assert found(f"Authorization: Bearer {jwt}") == [("jwt", jwt)]


def test_a_password_in_a_url_or_an_assignment_is_a_secret() -> None:
    assert found("db: postgres://app:Tr0ub4dor&3@db.internal/x") == [("secret", "Tr0ub4dor&3")]
    assert found('password = "correct-horse-battery"') == [("secret", "correct-horse-battery")]


def test_a_long_random_token_is_a_secret_but_a_hash_or_uuid_is_not() -> None:
    assert found("token: 9fQ2xLr7Vb1Kz8Wn4Ht6Yc3Mp5Dj0Gs2Ae7Ru") == [
        ("secret", "9fQ2xLr7Vb1Kz8Wn4Ht6Yc3Mp5Dj0Gs2Ae7Ru")
    ]
    assert found("sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08") == []
    assert found("request 123e4567-e89b-12d3-a456-426614174000 done") == []


@pytest.mark.parametrize(
    "text",
    [
        "The card 4111 1111 1111 1112 was declined.",  # fails Luhn
        "Order 7000 0000 0000 0008 shipped.",  # passes Luhn, no card issuer starts with 7
        "IBAN GB82 WEST 1234 5698 7654 33 please.",  # fails mod 97
        "His SSN is 666-22-1234.",  # area 666 is never issued
        "His SSN is 078-05-1120.",  # the published Woolworth wallet number
        "Reference 536221234 attached.",  # nine bare digits without an SSN cue
        "Version 1.2.3.4.5 and address 999.1.1.1 are not IPs.",
        "At 12:30:45 we met, 2024-01-05 14:00.",
        "Invoice 20240105 total 1234567 units.",
    ],
)
def test_numbers_that_fail_their_checksum_or_format_are_not_reported(text: str) -> None:
    assert find_pii(text) == []


def test_a_date_after_a_phone_cue_is_not_a_phone() -> None:
    assert find_pii("Call me when: 2016-03-29 08:42") == []


def test_the_scanner_reports_kind_part_span_and_score_without_the_value() -> None:
    text = "Reach Jane at jane@example.com or 4111-1111-1111-1111, key AKIAIOSFODNN7EXAMPLE."
    hits = PiiScanner().scan(call(text))
    assert [(h.kind, h.part, text[h.start or 0 : h.end]) for h in hits] == [
        ("email", Part.OUTPUT, "jane@example.com"),
        ("payment_card", Part.OUTPUT, "4111-1111-1111-1111"),
        ("api_key", Part.OUTPUT, "AKIAIOSFODNN7EXAMPLE"),
    ]
    for hit in hits:
        assert hit.scanner == "pii"
        assert 0 < hit.score <= 1
        assert text[hit.start or 0 : hit.end] not in hit.detail
        assert "@" not in hit.detail
        assert not any(c.isdigit() for c in hit.detail)


def test_the_prompt_is_read_only_when_scan_input_is_on() -> None:
    both = call(output="no data here", prompt="my mail is bob@example.org")
    assert PiiScanner().scan(both) == []
    hits = PiiScanner(scan_input=True).scan(both)
    assert [(h.kind, h.part) for h in hits] == [("email", Part.INPUT)]


def test_secrets_can_be_turned_off_and_settings_keep_their_names() -> None:
    scanner = PiiScanner(secrets=False, min_score=0.7, max_chars=100)
    assert (scanner.secrets, scanner.min_score, scanner.max_chars) == (False, 0.7, 100)
    assert scanner.scan(call("key AKIAIOSFODNN7EXAMPLE")) == []


def test_min_score_drops_the_findings_made_on_context_alone() -> None:
    text = "Phone:\n0431 19 97 94"
    assert PiiScanner().scan(call(text))
    assert PiiScanner(min_score=0.7).scan(call(text)) == []


def test_text_past_max_chars_is_not_scanned() -> None:
    text = "x" * 50 + " jane@example.com"
    assert PiiScanner(max_chars=40).scan(call(text)) == []
    assert PiiScanner(max_chars=100).scan(call(text))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\x00\ud800\uffff" * 50,
        "@" * 5000,
        "1" * 20_000,
        "+" + "1 " * 3000,
        ":" * 3000 + "a:" * 3000,
        "-----BEGIN PRIVATE KEY-----" + "A" * 30_000,
        "a" * 10_000 + "@" + "b." * 5000,
        "١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦",  # Arabic-Indic digits
    ],
)
def test_odd_input_never_raises(text: str) -> None:
    assert isinstance(PiiScanner(scan_input=True).scan(call(text, text)), list)


def test_a_call_without_text_has_no_hits() -> None:
    assert PiiScanner(scan_input=True).scan(call()) == []


def test_the_example_call_is_hit_and_the_contract_holds() -> None:
    hits = PiiScanner().scan(PiiScanner.example())
    assert hits
    assert {h.kind for h in hits} <= PiiScanner.kinds
    assert {h.part for h in hits} <= PiiScanner.parts


def test_the_marks_ingest_redaction_leaves_count_as_hits_of_their_kind():
    from fireline.detect.pii import mask_pii

    masked, _ = mask_pii("write to jane@example.com or call +44 20 7946 0958")
    call = Call(call_id="r", time=datetime(2026, 1, 1, tzinfo=UTC), feature="f", output_text=masked)

    hits = PiiScanner().scan(call)

    assert [(h.kind, h.detail) for h in hits] == [("email", "redacted"), ("phone", "redacted")]
    assert [masked[h.start : h.end] for h in hits] == ["[EMAIL]", "[PHONE]"]
    assert PiiScanner(redacted=False).scan(call) == []
