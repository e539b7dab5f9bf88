"""Answers that are not answers: refusals, empty responses and truncated ones."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import ClassVar

from fireline.domain.telemetry import Call, CallStatus
from fireline.scan.base import Hit, Part

#: Finish reasons by which providers say the model declined or was cut off.
REFUSAL_REASONS = ("content_filter", "refusal", "refused", "safety")
TRUNCATION_REASONS = ("length", "max_tokens", "max_output_tokens")
#: How models open a refusal; looked for only at the start of an answer, where refusals
#: are, so an answer that quotes one later is not taken for one.
REFUSAL_OPENINGS = (
    r"(?:i'?m|i am) (?:so )?sorry,? (?:but )?(?:i|we) (?:can(?:'|no)?t|cannot|am unable|won'?t)",
    r"(?:i|we) (?:can(?:'|no)?t|cannot|won'?t|will not|am unable to|'m unable to|am not able to)"
    r" (?:help|assist|provide|comply|do that|answer|share|discuss|fulfil)",
    r"as an ai(?: language model| assistant)?,? i (?:can(?:'|no)?t|cannot|am not able|don'?t)",
    r"(?:i|we) (?:must|have to) (?:decline|refuse)",
    r"(?:unfortunately|regrettably),? (?:i|we) (?:can(?:'|no)?t|cannot|am unable|won'?t)",
    r"i'?m not (?:able|allowed|permitted) to",
    r"this (?:request|question) (?:violates|goes against)",
)
_EXAMPLE_TIME = datetime(2026, 1, 1, tzinfo=UTC)
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'"})


class AnswerScanner:
    """Finds refusals (by finish reason, or a refusal's opening words), empty answers and
    answers cut off by the token limit.

    `opening_chars` is how much of the start of an answer is searched for a refusal.

    >>> [hit.kind for hit in AnswerScanner().scan(AnswerScanner.example())]
    ['refusal']
    """

    name: ClassVar[str] = "answer"
    kinds: ClassVar[frozenset[str]] = frozenset({"refusal", "empty", "truncated"})
    parts: ClassVar[frozenset[Part]] = frozenset({Part.OUTPUT, Part.CALL})

    def __init__(
        self,
        *,
        refusal_openings: Sequence[str] = REFUSAL_OPENINGS,
        opening_chars: int = 200,
    ) -> None:
        self.refusal_openings = tuple(refusal_openings)
        self.opening_chars = opening_chars
        self._refusal = re.compile("|".join(f"(?:{p})" for p in self.refusal_openings), re.I)

    def scan(self, call: Call) -> list[Hit]:
        if call.status is not CallStatus.OK:
            return []  # a failed call is an error, counted as one, not a bad answer
        reason = (call.finish_reason or "").lower()
        text = call.output_text
        if reason in REFUSAL_REASONS:
            return [Hit(self.name, "refusal", Part.CALL, detail=f"finish_reason={reason}")]
        if (text is not None and not text.strip()) or (text is None and call.output_tokens == 0):
            return [Hit(self.name, "empty", Part.OUTPUT)]
        hits: list[Hit] = []
        if text:
            opening = text[: self.opening_chars].translate(_APOSTROPHES)
            match = self._refusal.search(opening)
            if match is not None:
                hits.append(Hit(self.name, "refusal", Part.OUTPUT, match.start(), match.end()))
        if reason in TRUNCATION_REASONS:
            hits.append(Hit(self.name, "truncated", Part.CALL, detail=f"finish_reason={reason}"))
        return hits

    @classmethod
    def example(cls) -> Call:
        return Call(
            call_id="example-refusal",
            time=_EXAMPLE_TIME,
            feature="travel-assistant",
            input_text="How do I renew my passport?",
            output_text="I'm sorry, but I can't help with that request.",
            finish_reason="stop",
        )
