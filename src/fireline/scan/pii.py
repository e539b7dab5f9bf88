"""Personal data and secrets in answers: e-mails, phones, cards, IBANs, SSNs, IPs, keys, tokens.

Candidates are found with regular expressions and kept only when their checksum or format
holds: python-stdnum checks IBANs (country length and format, mod 97) and US SSNs (area,
group, serial and the published fake ones), phonenumbers checks that an international number
is possible for its country, the stdlib checks IPv6 addresses, and cards need Luhn and an
issuer's prefix. Known key formats (AWS, GitHub, GitLab, Slack, Stripe, OpenAI, Google, ...)
have their own rules, and long random tokens are caught by their entropy. Presidio's
recognizers were measured and not used (slower, lower recall): see bench/scankit/pii.py.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

import phonenumbers
from stdnum import iban as _iban
from stdnum.us import ssn as _ssn

from fireline.domain.telemetry import Call
from fireline.scan.base import Hit, Part

PII_KINDS = frozenset({"email", "phone", "payment_card", "iban", "us_ssn", "ip_address"})
SECRET_KINDS = frozenset({"api_key", "private_key", "jwt", "secret"})
_EXAMPLE_TIME = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class PiiSpan:
    """One piece of personal data or secret: kind, where, how sure, which format (no value)."""

    kind: str
    start: int
    end: int
    score: float = 1.0
    detail: str = ""


# A rule: kind, pattern, check (None: the pattern is enough; else returns the format name,
# "" to reject), score, and the characters one of which the text must hold for the rule to
# run at all (the cheap pre-check that keeps plain prose fast).
_Check = Callable[[re.Match[str], str], str]


@dataclass(frozen=True, slots=True)
class _Rule:
    kind: str
    pattern: re.Pattern[str]
    check: _Check | None
    score: float
    detail: str = ""
    needs: tuple[str, ...] = ()  # the rule runs only if the lowercased text has one of these
    hint: re.Pattern[str] | None = None  # ... and only if this cheap pattern is found
    group: int = 0  # the capture group that is the finding (0: the whole match)
    min_digits: int = 6  # numeric rules skip stretches with fewer digits


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # digit -> digit sum of twice the digit


def _luhn_ok(digits: str) -> bool:
    # By hand: stdnum.luhn is general (any alphabet) and measured ~20 µs a number here.
    odd = digits[-1::-2]
    even = digits[-2::-2]
    return (sum(map(int, odd)) + sum(_DOUBLED[int(d)] for d in even)) % 10 == 0


def _card(match: re.Match[str], _: str) -> str:
    digits = _digits(match.group())
    if not 12 <= len(digits) <= 19:
        return ""
    # Issuer prefixes cut most Luhn-valid order numbers (one in ten random numbers passes).
    issued = (
        digits[0] in "456"
        or digits[:2] in ("34", "37", "35", "30", "36", "38", "39")
        or "22" <= digits[:2] <= "27"
        or digits[:4] in ("1800", "2131", "0604")  # old JCB, old Maestro
    )
    return "card" if issued and _luhn_ok(digits) else ""


def _iban_check(match: re.Match[str], _: str) -> str:
    return "iban" if _iban.is_valid(match.group()) else ""


_SSN_CONTEXT = re.compile(r"(?i)\b(?:ssn|social security|ss#|ss no)")


def _ssn_check(match: re.Match[str], text: str) -> str:
    value = match.group()
    if not _ssn.is_valid(value):
        return ""
    # Nine bare digits are anything; only a nearby "SSN" makes them one.
    if value.isdigit() and not _SSN_CONTEXT.search(text, max(0, match.start() - 40), match.start()):
        return ""
    return "ssn"


def _ipv6(match: re.Match[str], _: str) -> str:
    value = match.group()
    if value.count(":") < 3 and "::" not in value:
        return ""
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return ""
    return "ipv6"


def _intl_phone(match: re.Match[str], _: str) -> str:
    try:
        number = phonenumbers.parse(match.group())
    except phonenumbers.NumberParseException:
        return ""
    return "international" if phonenumbers.is_possible_number(number) else ""


# A phone cue, then at most three small words ("call me at", "Phone:", "messages to").
_PHONE_BEFORE = re.compile(
    r"(?i)\b(?:phone|tel|telephone|mobile|cell|fax|call|dial|text|sms|whatsapp|reach|contact"
    r"|office|desk|messages? to|answering at)\W{0,3}"
    r"(?:(?:me|us|him|her|them|at|on|is|to|my|our|his|the|number|no|nr)\W{1,3}){0,3}$"
)
_PHONE_AFTER = re.compile(r"(?i)^\W{0,2}(?:office|fax|mobile|cell|home|work|desk|phone|tel)\b")
_DATE_LIKE = re.compile(r"^\d{4}[-./]\d{1,2}[-./]\d{1,2}\b|^\d{1,2}[-./]\d{1,2}[-./]\d{2,4}$")


def _context_phone(match: re.Match[str], text: str) -> str:
    value = match.group()
    digits = _digits(value.split("x")[0])
    if not 6 <= len(digits) <= 15 or _DATE_LIKE.match(value):
        return ""
    before = text[max(0, match.start() - 40) : match.start()]
    after = text[match.end() : match.end() + 12]
    return "by_context" if _PHONE_BEFORE.search(before) or _PHONE_AFTER.match(after) else ""


def _entropy(token: str) -> float:
    counts = Counter(token)
    return -sum(n / len(token) * math.log2(n / len(token)) for n in counts.values())


_HEX = re.compile(r"^[0-9a-fA-F-]+$")


def _random_token(min_entropy: float) -> _Check:
    def check(match: re.Match[str], _: str) -> str:
        token = match.group()
        # Hex (hashes, UUIDs, commit ids) is an identifier, not a credential; a secret mixes
        # cases and digits, and its characters are close to uniformly drawn.
        if _HEX.match(token) or token.isalpha() or token.islower() or token.isupper():
            return ""
        if not any(c.isdigit() for c in token):
            return ""
        return "high_entropy" if _entropy(token) >= min_entropy else ""

    return check


_EXT = r"(?:\s?x\s?\d{1,5})?"
# Key formats start with a literal, which the regex engine finds fast; the word boundary
# before it is checked in code (a leading \b would make the engine try every position).
_SECRET_FORMATS: tuple[tuple[str, str, str], ...] = (
    # (kind, format name, pattern); names are reported as `detail`.
    ("api_key", "aws_access_key", r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"),
    ("api_key", "github_token", r"gh[pousr]_[A-Za-z0-9]{36,251}\b"),
    ("api_key", "github_token", r"github_pat_\w{60,255}"),
    ("api_key", "gitlab_token", r"gl(?:pat|dt|rt|ptt|cbt)-[\w-]{20,}"),
    ("api_key", "slack_token", r"xox[abposre]-[A-Za-z0-9-]{10,}"),
    ("api_key", "slack_webhook", r"hooks\.slack\.com/services/T\w+/B\w+/\w+"),
    ("api_key", "stripe_key", r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}\b"),
    ("api_key", "openai_key", r"sk-(?:proj-|svcacct-|admin-|ant-[a-z0-9]+-)?[\w-]{20,}"),
    ("api_key", "google_api_key", r"AIza[\w-]{35}(?![\w-])"),
    ("api_key", "huggingface_token", r"hf_[A-Za-z0-9]{34,}\b"),
    ("api_key", "npm_token", r"npm_[A-Za-z0-9]{36}\b"),
    ("api_key", "pypi_token", r"pypi-AgE[\w-]{50,}"),
    ("api_key", "sendgrid_key", r"SG\.[\w-]{22}\.[\w-]{43}\b"),
    (
        "private_key",
        "private_key_block",
        r"-----BEGIN[A-Z ]{0,30} PRIVATE KEY(?: BLOCK)?-----"
        r"(?:[\s\S]{0,8000}?-----END[A-Z ]{0,30} PRIVATE KEY(?: BLOCK)?-----)?",
    ),
    ("jwt", "jwt", r"eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{8,}"),
    ("secret", "url_password", r"://[^\s:/@]{1,64}:([^\s:/@]{3,128})@"),
)
# The value after "password:" and the like; group 1 is the span reported.
_ASSIGNED = (
    r"(?i)\b(?:password|passwd|pwd|secret|api[_-]?key|access[_-]?token|auth[_-]?token)"
    r"[\"']?\s{0,3}[:=]\s{0,3}[\"']?((?![<*{$])[^\s\"'<>,;]{8,128})"
)
_ASSIGNED_WORDS = ("pass", "pwd", "secret", "key", "token")


def _bounded(name: str) -> _Check:
    def check(match: re.Match[str], text: str) -> str:
        before = text[match.start() - 1 : match.start()]
        glued = before.isalnum() or before == "_"
        return "" if glued and match.group()[0].isalnum() else name

    return check


def _rules(min_entropy: float) -> tuple[tuple[_Rule, ...], tuple[_Rule, ...]]:
    """(rules run over the whole text, rules run inside numeric stretches only)."""
    secrets = tuple(
        _Rule(
            kind,
            re.compile(pattern),
            _bounded(name),
            1.0 if kind != "secret" else 0.8,
            group=re.compile(pattern).groups,
        )
        for kind, name, pattern in _SECRET_FORMATS
    )
    whole = (
        *secrets,
        _Rule(
            "secret",
            re.compile(_ASSIGNED),
            None,
            0.8,
            "assigned_secret",
            needs=_ASSIGNED_WORDS,
            group=1,
        ),
        _Rule(
            "email",
            re.compile(
                r"(?<![\w.%+-])[\w.%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.){1,8}[A-Za-z]{2,24}\b"
            ),
            None,
            1.0,
            "email",
            needs=("@",),
        ),
        _Rule(
            "iban",
            re.compile(
                r"[A-Z]{2}(?<![\w][A-Z]{2})\d\d"
                r"(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?)\b"
            ),
            _iban_check,
            1.0,
        ),
        _Rule(
            "ip_address",
            re.compile(
                r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}"
                r"(?![\w:])"
            ),
            _ipv6,
            1.0,
            needs=(":",),
            hint=_HEXCOLON,
        ),
        _Rule("secret", _LONG_TOKEN, _random_token(min_entropy), 0.5, hint=_LONG_RUN),
    )
    numeric = (
        _Rule(
            "payment_card",
            re.compile(r"(?<![\w.+-])\d(?:[ -]?\d){11,18}(?![\w-])"),
            _card,
            1.0,
            min_digits=12,
        ),
        _Rule(
            "us_ssn",
            re.compile(r"(?<![\w-])\d{3}(?:-\d{2}-| \d{2} |\d{2})\d{4}(?![\w-])"),
            _ssn_check,
            1.0,
            min_digits=9,
        ),
        _Rule(
            "ip_address",
            re.compile(
                r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}"
                r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\w]|\.\d)"
            ),
            None,
            0.9,
            "ipv4",
            min_digits=4,
        ),
        _Rule(
            "phone",
            re.compile(
                r"(?<![\w+])\+\d{1,3}(?:[ .-]?(?:\(0?\d{1,4}\)|\d{1,5})){1,6}" + _EXT + r"(?!\w)"
            ),
            _intl_phone,
            0.95,
            min_digits=7,
        ),
        _Rule(
            "phone",
            re.compile(
                r"(?<![\w+])(?:1[ .-]|001[ .-])?(?:\(\d{3}\) ?|\d{3}[.-])\d{3}"
                r"[.-]\d{4}" + _EXT + r"(?![\w-])"
            ),
            None,
            0.9,
            "north_american",
            min_digits=10,
        ),
        _Rule(
            "phone",
            re.compile(r"(?<![\w+])(?:\+|00)?\(?\d[\d ().-]{4,22}\d" + _EXT + r"(?!\w)"),
            _context_phone,
            0.6,
        ),
    )
    return whole, numeric


# Stretches of digits and the characters numbers are written with; numeric rules run only
# inside them, so prose costs one pass instead of one per rule.
_NUMERIC = re.compile(r"[\d+(][\d ()+./x-]{5,}")
_HEXCOLON = re.compile(r":[0-9A-Fa-f]{0,4}:")
_LONG_RUN = re.compile(r"[A-Za-z0-9+/_=-]{32}")
_LONG_TOKEN = re.compile(r"(?<![\w+/=-])[A-Za-z0-9+/_-]{32,256}={0,2}(?![\w+/=-])")


def _overlaps(span: PiiSpan, taken: list[PiiSpan]) -> bool:
    return any(span.start < other.end and other.start < span.end for other in taken)


class PiiFinder:
    """Finds personal data and secrets in plain text; the engine behind `PiiScanner`.

    >>> [s.kind for s in PiiFinder().find("mail jane@example.com, card 4111 1111 1111 1111")]
    ['email', 'payment_card']
    """

    def __init__(
        self, *, secrets: bool = True, min_entropy: float = 4.2, max_chars: int = 20_000
    ) -> None:
        self.secrets = secrets
        self.min_entropy = min_entropy
        self.max_chars = max_chars
        whole, self._numeric = _rules(min_entropy)
        self._whole = whole if secrets else tuple(r for r in whole if r.kind in PII_KINDS)

    def find(self, text: str) -> list[PiiSpan]:
        """Every finding in `text`, earliest first, without overlaps; never raises."""
        try:
            return self._find(text[: self.max_chars])
        except Exception:
            return []

    def _find(self, text: str) -> list[PiiSpan]:
        if not text:
            return []
        lower = text.lower()
        stretches = [
            (m.start(), m.end(), sum(map(str.isdigit, m.group()))) for m in _NUMERIC.finditer(text)
        ]
        taken: list[PiiSpan] = []
        # Earlier rules win overlaps: a key beats the token inside it, a card the phone.
        for rule in self._whole:
            if rule.needs and not any(word in lower for word in rule.needs):
                continue
            if rule.hint is not None and rule.hint.search(text) is None:
                continue
            _keep(_matches(rule, text, 0, len(text)), taken)
        for rule in self._numeric:
            for start, end, digits in stretches:
                if digits >= rule.min_digits:
                    _keep(_matches(rule, text, start, end), taken)
        return sorted(taken, key=lambda span: span.start)


def _keep(spans: Iterator[PiiSpan], taken: list[PiiSpan]) -> None:
    for span in spans:
        if not _overlaps(span, taken):
            taken.append(span)


def _matches(rule: _Rule, text: str, start: int, end: int) -> Iterator[PiiSpan]:
    for match in rule.pattern.finditer(text, start, end):
        detail = rule.detail if rule.check is None else rule.check(match, text)
        if detail:
            begin, finish = match.span(rule.group)
            yield PiiSpan(rule.kind, begin, finish, rule.score, detail)


_DEFAULT_FINDER = PiiFinder()


def find_pii(text: str) -> list[PiiSpan]:
    """Personal data and secrets in `text` with the default settings, earliest first.

    >>> [(s.kind, s.start, s.end) for s in find_pii("SSN 078-05-1121, from 10.0.0.7")]
    [('us_ssn', 4, 15), ('ip_address', 22, 30)]
    """
    return _DEFAULT_FINDER.find(text)


#: The marks ingest redaction (`ingest.redaction.pii: mask`) leaves in place of personal data.
_REDACTED = re.compile(r"\[(EMAIL|PHONE|PAYMENT_CARD|IBAN|US_SSN|IP_ADDRESS)\]")


class PiiScanner:
    """Finds personal data and secrets in answers (and prompts, with `scan_input`).

    With `redacted`, the marks that ingest redaction left where it masked personal data
    ("[EMAIL]") count as hits of their kind (detail "redacted"): the data was there, and
    fireline stored the call without it.

    >>> [(h.kind, h.part.value, h.detail) for h in PiiScanner().scan(PiiScanner.example())]
    [('email', 'output', 'email'), ('payment_card', 'output', 'card')]
    """

    name: ClassVar[str] = "pii"
    kinds: ClassVar[frozenset[str]] = PII_KINDS | SECRET_KINDS
    parts: ClassVar[frozenset[Part]] = frozenset({Part.OUTPUT, Part.INPUT})

    def __init__(
        self,
        *,
        scan_input: bool = False,
        secrets: bool = True,
        min_entropy: float = 4.2,
        min_score: float = 0.0,
        max_chars: int = 20_000,
        redacted: bool = True,
    ) -> None:
        self.scan_input = scan_input
        self.redacted = redacted
        self.secrets = secrets
        self.min_entropy = min_entropy
        self.min_score = min_score
        self.max_chars = max_chars
        self._finder = PiiFinder(secrets=secrets, min_entropy=min_entropy, max_chars=max_chars)

    def scan(self, call: Call) -> list[Hit]:
        texts = [(Part.OUTPUT, call.output_text)]
        if self.scan_input:
            texts.append((Part.INPUT, call.input_text))
        hits = [
            Hit(self.name, span.kind, part, span.start, span.end, span.score, span.detail)
            for part, text in texts
            if isinstance(text, str)
            for span in self._finder.find(text)
            if span.score >= self.min_score
        ]
        if self.redacted:
            hits.extend(
                Hit(
                    self.name,
                    mark.group(1).lower(),
                    part,
                    mark.start(),
                    mark.end(),
                    1.0,
                    "redacted",
                )
                for part, text in texts
                if isinstance(text, str) and "[" in text
                for mark in _REDACTED.finditer(text[: self.max_chars])
            )
            hits.sort(key=lambda hit: (hit.part, hit.start or 0))
        return hits

    @classmethod
    def example(cls) -> Call:
        return Call(
            call_id="example-pii",
            time=_EXAMPLE_TIME,
            feature="support-bot",
            input_text="What card does Jane have on file?",
            output_text="Jane (jane.doe@example.com) pays with 4111 1111 1111 1111.",
        )
