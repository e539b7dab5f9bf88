"""Labelled texts for the PII scanner, made from presidio-evaluator's templates and Faker.

Microsoft's presidio-evaluator (a registry package, `pip install presidio-evaluator==0.3.2`)
ships about 200 sentence templates written for evaluating PII detectors ("My IBAN is
{{iban}}", "Can someone call me on {{phone_number}}?") and fills them with its own Faker
providers and the FakeNameGenerator records it carries, labelling every filled span. We use
it unchanged, with a fixed seed, and only choose which templates to draw from:

- positives: templates with at least one structured placeholder (card, IBAN, SSN, IP,
  e-mail, phone);
- plain negatives: the other templates (names, addresses, dates, ages, zip codes, driver
  licences), which hold numbers that must not be taken for cards, phones or SSNs;
- (line breaks written as the two characters \\n in the file are made newlines;)
- checksum negatives: positive sentences whose card or IBAN has one digit changed (a single
  changed digit always breaks Luhn and mod 97) and whose SSN is swapped for Faker's
  `invalid_ssn()` (area 000, 666 or 9xx); the changed span loses its label.

Sentences are joined into calls of about 500 characters, the size of a typical answer, with
the labels moved along. Only the structured kinds are labels; everything else is context.
Importing presidio-evaluator takes seconds (it pulls in transformers), so the corpus is
written once to a JSON file in the cache directory (`$FIRELINE_SCAN_CORPORA`, by default
~/.cache/fireline/scan-corpora) and read from there afterwards.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

#: presidio-evaluator's entity types -> fireline's kinds (the structured ones only).
KIND_OF = {
    "CREDIT_CARD": "payment_card",
    "IBAN_CODE": "iban",
    "US_SSN": "us_ssn",
    "IP_ADDRESS": "ip_address",
    "EMAIL_ADDRESS": "email",
    "PHONE_NUMBER": "phone",
}
_STRUCTURED = re.compile(r"\{\{(credit_card_number|iban|ssn|ip_address|email|phone_number)\}\}")
CALL_CHARS = 500
SEED = 20_260_105


@dataclass(frozen=True)
class Gold:
    kind: str
    start: int
    end: int


@dataclass
class Sample:
    """One call's text with its labelled spans; `source` says how it was made."""

    text: str
    gold: list[Gold] = field(default_factory=list)
    source: str = "positive"


def _faker_sentences(templates: list[str], count: int, seed: int) -> list[Sample]:
    from presidio_evaluator.data_generator import PresidioSentenceFaker
    from presidio_evaluator.data_generator.faker_extensions import providers

    # Every default provider but the hospitals one, which tries to download a list.
    chosen = [
        providers.IpAddressProvider,
        providers.NationalityProvider,
        providers.OrganizationProvider,
        providers.UsDriverLicenseProvider,
        providers.AgeProvider,
        providers.AddressProviderNew,
        providers.PhoneNumberProviderNew,
        providers.ReligionProvider,
    ]
    random.seed(seed)  # the generator draws templates with the `random` module
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        faker = PresidioSentenceFaker(
            "en_US",
            lower_case_ratio=0.0,
            sentence_templates=templates,
            entity_providers=chosen,
            random_seed=seed,
        )
        results = faker.generate_new_fake_sentences(count)
    samples = []
    for result in results:
        gold = [
            Gold(KIND_OF[s.entity_type], s.start_position, s.end_position)
            for s in result.spans
            if s.entity_type in KIND_OF
        ]
        samples.append(Sample(result.full_text, gold))
    return samples


def _break_digit(value: str, rng: random.Random) -> str:
    positions = [i for i, c in enumerate(value) if c.isdigit()][2:]  # keep the prefix
    i = rng.choice(positions)
    digit = str((int(value[i]) + rng.randint(1, 9)) % 10)
    return value[:i] + digit + value[i + 1 :]


def _checksum_negative(sample: Sample, rng: random.Random, invalid_ssn: str) -> Sample | None:
    """`sample` with its first card, IBAN or SSN made invalid and unlabelled, or None."""
    for target in sample.gold:
        if target.kind not in ("payment_card", "iban", "us_ssn"):
            continue
        old = sample.text[target.start : target.end]
        new = invalid_ssn if target.kind == "us_ssn" else _break_digit(old, rng)
        shift = len(new) - len(old)
        text = sample.text[: target.start] + new + sample.text[target.end :]
        gold = [
            g if g.end <= target.start else Gold(g.kind, g.start + shift, g.end + shift)
            for g in sample.gold
            if g is not target
        ]
        return Sample(text, gold, f"broken_{target.kind}")
    return None


def _join(samples: list[Sample], source: str) -> list[Sample]:
    """Sentences joined into calls of about CALL_CHARS characters, labels moved along."""
    calls: list[Sample] = []
    text, gold = "", []
    for sample in samples:
        offset = len(text) + (1 if text else 0)
        text = f"{text}\n{sample.text}" if text else sample.text
        gold += [Gold(g.kind, g.start + offset, g.end + offset) for g in sample.gold]
        if len(text) >= CALL_CHARS:
            calls.append(Sample(text, gold, source))
            text, gold = "", []
    if text:
        calls.append(Sample(text, gold, source))
    return calls


def _cache_file(quick: bool) -> Path:
    root = os.environ.get("FIRELINE_SCAN_CORPORA") or Path.home() / ".cache/fireline/scan-corpora"
    return Path(root) / f"pii-presidio-evaluator-0.3.2-{SEED}-{'quick' if quick else 'full'}.json"


def load(quick: bool) -> list[Sample]:
    """The corpus as calls (from the cache when it is there); see the module's docstring."""
    path = _cache_file(quick)
    if path.exists():
        rows = json.loads(path.read_text())
        return [Sample(r["text"], [Gold(**g) for g in r["gold"]], r["source"]) for r in rows]
    samples = generate(quick)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(s) for s in samples]))
    return samples


def generate(quick: bool) -> list[Sample]:
    """The corpus as calls: positives, plain negatives and checksum negatives."""
    from faker import Faker
    from presidio_evaluator.data_generator.presidio_sentence_faker import (
        presidio_templates_file_path,
    )

    lines = presidio_templates_file_path.read_text().splitlines()
    # The file writes line breaks inside a template as the two characters \n (and commas
    # in a few as \,): they are meant as a newline and a comma.
    templates = [t.strip().replace("\\n", "\n").replace("\\,", ",") for t in lines]
    templates = [t for t in templates if t]
    positive = [t for t in templates if _STRUCTURED.search(t)]
    negative = [t for t in templates if not _STRUCTURED.search(t)]
    count = 700 if quick else 4_000
    pos = _faker_sentences(positive, count, SEED)
    neg = _faker_sentences(negative, count, SEED + 1)
    rng = random.Random(SEED)
    fake = Faker("en_US")
    fake.seed_instance(SEED)
    broken = [b for s in pos if (b := _checksum_negative(s, rng, fake.invalid_ssn())) is not None]
    for sample in neg:
        sample.source = "negative"
    return [*_join(pos, "positive"), *_join(neg, "negative"), *_join(broken, "broken")]
