"""Personal data in text: e-mail addresses, phone numbers, payment cards, IBANs, SSNs, IPs.

Patterns with checksums where the format has one (Luhn for cards, mod 97 for IBANs), so
that order numbers and timestamps are not taken for cards.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PiiHit:
    """One piece of personal data: its kind and where it is in the text."""

    kind: str
    start: int
    end: int


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card(match: str) -> bool:
    digits = re.sub(r"[ -]", "", match)
    return 13 <= len(digits) <= 19 and _luhn(digits)


def _iban(match: str) -> bool:
    compact = match.replace(" ", "").upper()
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(char, 36)) for char in rearranged)
    return len(compact) >= 15 and int(number) % 97 == 1


def _ipv4(match: str) -> bool:
    return all(int(part) <= 255 for part in match.split("."))


def _ssn(match: str) -> bool:
    area, group, serial = match.split("-")
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


_PATTERNS: tuple[tuple[str, re.Pattern[str], Callable[[str], bool] | None], ...] = (
    ("email", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"), None),
    ("iban", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"), _iban),
    ("payment_card", re.compile(r"\b(?:\d[ -]?){12,18}\d\b"), _card),
    ("us_ssn", re.compile(r"\b\d{3}-\d{2}-\d{4}\b"), _ssn),
    # A phone number is written as one: international with "+", or North American with
    # separators. Bare digit runs (order numbers, timestamps) are not phone numbers.
    ("phone", re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}\d\b"), None),
    ("phone", re.compile(r"(?:\(\d{3}\) ?|\b\d{3}[ .-])\d{3}[ .-]\d{4}\b"), None),
    ("ip_address", re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"), _ipv4),
)


def find_pii(text: str) -> list[PiiHit]:
    """Every piece of personal data in `text`, earliest first, without overlaps.

    >>> [h.kind for h in find_pii("mail jane@example.com or card 4111 1111 1111 1111")]
    ['email', 'payment_card']
    """
    hits: list[PiiHit] = []
    for kind, pattern, valid in _PATTERNS:
        for match in pattern.finditer(text):
            if valid is not None and not valid(match.group()):
                continue
            if any(match.start() < hit.end and hit.start < match.end() for hit in hits):
                continue  # an earlier, more specific kind already covers it
            hits.append(PiiHit(kind, match.start(), match.end()))
    return sorted(hits, key=lambda hit: hit.start)


def mask_pii(text: str) -> tuple[str, int]:
    """`text` with each piece of personal data replaced by its kind, and how many there were.

    >>> mask_pii("call +44 20 7946 0958 now")
    ('call [PHONE] now', 1)
    """
    hits = find_pii(text)
    for hit in reversed(hits):
        text = f"{text[: hit.start]}[{hit.kind.upper()}]{text[hit.end :]}"
    return text, len(hits)
