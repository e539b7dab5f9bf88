"""The reputation scanner: forbidden claims and off-brand language in answers."""

from __future__ import annotations

import time
from typing import Any

import pytest

from fireline.detect import embeddings as embedding_models
from fireline.domain.telemetry import Call
from fireline.scan import reputation
from fireline.scan.base import Hit, Part
from fireline.scan.reputation import ReputationScanner
from tests.conftest import T0

CLAIMS = {"going_out_of_business": ("the company is going out of business",)}
OFF_BRAND = {"slang": ("dude", "no worries mate"), "profanity": ("damn",)}


def answer(text: str | None) -> Call:
    return Call(call_id="c1", time=T0, feature="support-chat", output_text=text)


def lexical(**settings: Any) -> ReputationScanner:
    return ReputationScanner(
        **{"claims": CLAIMS, "off_brand": OFF_BRAND, "embeddings": False, **settings}
    )


def found(scanner: ReputationScanner, text: str) -> list[tuple[str, str]]:
    return [(hit.kind, hit.detail) for hit in scanner.scan(answer(text))]


CLAIM = [("forbidden_claim", "going_out_of_business")]

embeddings_installed = pytest.mark.skipif(
    not reputation._embeddings_installed(), reason="fireline's 'embeddings' extra is missing"
)


@pytest.mark.parametrize(
    "text",
    [
        "The company is going out of business.",
        "THE COMPANY IS GOING OUT OF BUSINESS!",
        "The companies are going out of businesses in May.",
        "Our company's going out of business",
        "Sadly, the company is going out of business next month.",
    ],
)
def test_a_claim_is_found_whatever_its_case_and_inflection(text: str) -> None:
    assert found(lexical(), text) == CLAIM


@pytest.mark.parametrize(
    "text",
    [
        "The company, I am sorry to say, is going out of business.",
        "Going out of business is what the company is doing.",
    ],
)
def test_a_claim_is_found_with_a_few_words_between_or_in_another_order(text: str) -> None:
    assert found(lexical(gap=5), text) == CLAIM


def test_the_hit_names_the_claim_and_spans_its_sentence_without_quoting_it() -> None:
    text = "Thanks for asking. The company is going out of business.  Anything else?"
    [hit] = lexical().scan(answer(text))
    start = text.index("The company")
    assert hit == Hit(
        "reputation", "forbidden_claim", Part.OUTPUT, start, text.index("  Anything"), 1.0,
        "going_out_of_business",
    )  # fmt: skip
    assert "business" not in hit.detail.replace("going_out_of_business", "")


def test_each_sentence_that_makes_the_claim_is_a_hit_of_its_own() -> None:
    text = "The company is going out of business. Yes, the company is going out of business."
    hits = lexical().scan(answer(text))
    assert [(hit.start, hit.end) for hit in hits] == [(0, 37), (38, len(text))]


@pytest.mark.parametrize(
    "text",
    [
        "The business of the company is going well; we are out of stock.",
        "The company is great. Going out? Business hours end at five.",
        "The company is growing and our business is going strong.",
    ],
)
def test_the_claims_words_scattered_over_a_sentence_or_sentences_are_no_claim(text: str) -> None:
    assert found(lexical(), text) == []


@pytest.mark.parametrize(
    "text",
    [
        "The company is not going out of business.",
        "No, the company is never going out of business.",
        "The company isn't going out of business.",
    ],
)
def test_denying_the_claim_is_not_making_it(text: str) -> None:
    assert found(lexical(), text) == []


@pytest.mark.parametrize(
    "text",
    [
        "No, the company is going out of business.",
        "I would not renew; the company is going out of business.",
    ],
)
def test_a_negation_in_an_earlier_clause_does_not_deny_the_claim(text: str) -> None:
    assert found(lexical(), text) == CLAIM


def test_a_phrasing_that_is_itself_negated_needs_the_negation() -> None:
    scanner = lexical(claims={}, off_brand={"dismissive": ("not my problem",)})
    assert found(scanner, "That is not my problem.") == [("off_brand", "dismissive")]
    assert found(scanner, "That is my problem, I will fix it.") == []


def test_off_brand_terms_are_found_under_the_name_of_their_list() -> None:
    text = "Dude, your order shipped. No worries, mate! Damned couriers."
    hits = lexical().scan(answer(text))
    assert [(hit.kind, hit.detail, text[hit.start : hit.end]) for hit in hits] == [
        ("off_brand", "slang", "Dude, your order shipped."),
        ("off_brand", "slang", "No worries, mate!"),
        ("off_brand", "profanity", "Damned couriers."),
    ]


def test_an_off_brand_word_inside_another_word_is_not_off_brand() -> None:
    assert found(lexical(), "Dudley will help you; the dam is closed.") == []


def test_a_plain_answer_and_a_missing_answer_have_no_hits() -> None:
    scanner = lexical()
    assert scanner.scan(answer("Your invoice is due on the fifth of next month.")) == []
    assert scanner.scan(answer("")) == []
    assert scanner.scan(answer(None)) == []


def test_the_input_is_not_read() -> None:
    call = Call(
        call_id="c1", time=T0, feature="f", input_text="Is the company going out of business?"
    )
    assert lexical().scan(call) == []


def test_the_default_scanner_finds_something_in_its_own_example() -> None:
    hits = ReputationScanner(embeddings=False).scan(ReputationScanner.example())
    assert [(hit.kind, hit.detail) for hit in hits] == CLAIM
    assert ReputationScanner.name == "reputation"
    assert {hit.kind for hit in hits} <= ReputationScanner.kinds
    assert {hit.part for hit in hits} <= ReputationScanner.parts


def test_settings_are_kept_under_their_own_names() -> None:
    scanner = ReputationScanner(
        claims=CLAIMS, off_brand={}, gap=4, embeddings=False, similarity=0.7
    )
    assert scanner.claims == CLAIMS
    assert scanner.off_brand == {}
    assert (scanner.gap, scanner.embeddings, scanner.similarity) == (4, False, 0.7)


def test_asking_for_embeddings_without_the_extra_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reputation, "_embeddings_installed", lambda: False)
    with pytest.raises(embedding_models.EmbeddingModelMissing, match="embeddings"):
        ReputationScanner(embeddings=True)


def test_without_the_extra_the_scanner_still_matches_words(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reputation, "_embeddings_installed", lambda: False)

    def no_model(texts: object) -> None:
        raise AssertionError("the model must not be asked for")

    monkeypatch.setattr(embedding_models, "minilm_embed", no_model)
    scanner = ReputationScanner(claims=CLAIMS)
    assert found(scanner, "The company is going out of business.") == CLAIM
    assert found(scanner, "The firm will soon cease operations.") == []


def test_a_model_that_turns_out_missing_leaves_the_word_matches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def missing(texts: object) -> None:
        raise embedding_models.EmbeddingModelMissing("gone")

    monkeypatch.setattr(reputation, "_embeddings_installed", lambda: True)
    monkeypatch.setattr(embedding_models, "minilm_embed", missing)
    scanner = ReputationScanner(claims=CLAIMS)
    assert found(scanner, "The company is going out of business.") == CLAIM
    assert found(scanner, "The company is going out of business.") == CLAIM


def test_the_word_match_of_a_typical_answer_takes_microseconds() -> None:
    text = (
        "Thanks for reaching out about your subscription. I checked your account and your "
        "next invoice is due on the fifth of next month. You can change the plan at any time "
        "from the billing page, and the new price applies from the next cycle. If you need a "
        "refund for the last charge, reply with the order number and our team will process it "
        "within three business days. Damn, is there anything else I can help with today?"
    )
    scanner, call = ReputationScanner(embeddings=False), answer(text)
    assert len(scanner.scan(call)) == 1
    rounds = 500
    started = time.perf_counter()
    for _ in range(rounds):
        scanner.scan(call)
    per_call = (time.perf_counter() - started) / rounds
    # About 50 µs on one free core; the bound leaves room for a busy shared machine.
    assert per_call < 500e-6


@pytest.fixture(scope="module")
def with_embeddings() -> ReputationScanner:
    return ReputationScanner(claims=CLAIMS, off_brand=OFF_BRAND, embeddings=True)


@embeddings_installed
def test_a_paraphrase_of_a_claim_is_found_by_sentence_embeddings(
    with_embeddings: ReputationScanner,
) -> None:
    text = "Please keep your receipts. The firm will soon cease operations."
    [hit] = with_embeddings.scan(answer(text))
    assert (hit.kind, hit.detail) == CLAIM[0]
    assert (hit.start, hit.end) == (text.index("The firm"), len(text))
    assert with_embeddings.similarity <= hit.score < 1.0


@embeddings_installed
@pytest.mark.parametrize(
    "text",
    [
        "The company is not going out of business.",
        "I can help you with your business account.",
        "Our company offers great solutions for small business.",
        "The store will close at 5pm today.",
    ],
)
def test_a_denial_or_a_sentence_merely_on_topic_is_no_paraphrase(
    with_embeddings: ReputationScanner, text: str
) -> None:
    assert with_embeddings.scan(answer(text)) == []


@embeddings_installed
def test_a_word_match_keeps_its_full_score_when_embeddings_also_match(
    with_embeddings: ReputationScanner,
) -> None:
    [hit] = with_embeddings.scan(answer("The company is going out of business."))
    assert hit.score == 1.0
