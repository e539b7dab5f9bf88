"""Embedding drift with the real sentence-embedding model, loaded offline from its package."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from fireline.detect.base import Window
from fireline.detect.embeddings import minilm_embed
from fireline.detect.mmd import MMDDriftDetector

T0 = datetime(2026, 3, 2, tzinfo=UTC)
HOUR = timedelta(hours=1)
PER_HOUR = 20

# Each billing question in two wordings: the reference hears one, later windows the other.
BILLING = [
    ("How do I update the card on my invoice?", "Where can I change the credit card I pay with?"),
    ("Why was I charged twice this month?", "I see two identical payments on my statement."),
    (
        "Can I get a refund for my last payment?",
        "Please give me my money back for the last charge.",
    ),
    ("Where can I download my billing statement?", "How do I get a PDF of my account statement?"),
    ("How do I change my subscription plan?", "I'd like to switch to a different plan."),
    ("My card payment was declined, what should I do?", "The payment keeps failing with my card."),
    ("Can you explain the extra fee on my bill?", "What is this additional charge on my invoice?"),
    ("How do I cancel my subscription?", "I want to end my membership and stop paying."),
    ("Is there a discount for paying annually?", "Do yearly plans cost less than monthly ones?"),
    ("Why did my monthly price go up?", "My subscription got more expensive, why?"),
    ("How do I add a VAT number to my account?", "Where do I enter my company's tax ID?"),
    ("Can I pay by bank transfer instead of card?", "Is wire transfer an accepted payment method?"),
    ("When will I be charged next?", "What date is my next payment due?"),
    ("I was billed after cancelling, please refund me.", "You charged me even though I cancelled."),
    ("How can I see all my past transactions?", "Show me the history of my payments."),
    ("How are prorated charges calculated?", "How much will I pay if I upgrade mid-month?"),
]
GARDENING = [
    "When should I plant tomatoes outside?",
    "How often do I water an orchid?",
    "What soil do roses like best?",
    "How do I keep slugs off my lettuce?",
    "Can I grow basil indoors in winter?",
    "Why are the leaves on my cucumber turning yellow?",
    "How deep should I plant tulip bulbs?",
    "What is the best way to prune an apple tree?",
    "How do I start a compost heap?",
    "Which vegetables grow well in the shade?",
    "How do I get rid of aphids on my beans?",
    "When is the right time to harvest potatoes?",
]
WORDED_ONE_WAY = [first for first, _ in BILLING]
WORDED_ANOTHER_WAY = [second for _, second in BILLING]


def hours(corpus: list[str], start: int, count: int, rng: np.random.Generator) -> list[Window]:
    windows = []
    for i in range(start, start + count):
        texts = tuple(corpus[k] for k in rng.integers(0, len(corpus), PER_HOUR))
        windows.append(Window(T0 + i * HOUR, T0 + (i + 1) * HOUR, n=len(texts), texts=texts))
    return windows


def alarms(detector: MMDDriftDetector, windows: list[Window]) -> list[bool]:
    found = []
    for x in windows:
        detector.update(x)
        found.append(detector.drift_detected)
    return found


def test_the_model_puts_paraphrases_closer_than_other_topics():
    one, other = minilm_embed(WORDED_ONE_WAY), minilm_embed(WORDED_ANOTHER_WAY)
    gardening = minilm_embed(GARDENING)

    assert one.shape == (len(BILLING), 384)
    assert np.allclose(np.linalg.norm(one, axis=1), 1.0, atol=1e-5)
    paraphrase = np.mean(np.sum(one * other, axis=1))
    off_topic = np.mean(one @ gardening.T)
    assert paraphrase > off_topic + 0.3


def test_questions_on_another_topic_raise_an_embedding_drift_alarm():
    rng = np.random.default_rng(1)
    detector = MMDDriftDetector()
    stable = hours(WORDED_ONE_WAY + WORDED_ANOTHER_WAY, 0, 28, rng)
    other_topic = hours(GARDENING, 28, 3, rng)

    assert not any(alarms(detector, stable))
    assert any(alarms(detector, other_topic))
    evidence = detector.evidence
    assert evidence["effect"] >= detector.min_effect
    assert evidence["p_value"] <= evidence["alpha"] == detector.alpha(3_600)
    assert evidence["current"] < evidence["baseline"] - 0.2  # less like the usual questions


def test_the_same_questions_in_other_words_raise_no_alarm():
    rng = np.random.default_rng(2)
    detector = MMDDriftDetector()
    stable = hours(WORDED_ONE_WAY, 0, 28, rng)
    reworded = hours(WORDED_ANOTHER_WAY, 28, 12, rng)

    assert not any(alarms(detector, stable + reworded))
    assert detector.level is not None
