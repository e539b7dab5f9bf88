"""LLM-as-judge: a model behind any OpenAI-compatible endpoint scores a sample of the calls.

The judge reads the prompt `JudgePrompt` renders from the call's question and answer and
replies with a score in [0, 1]; a score under the threshold is a `judge_fail` hit. Which calls
are judged is decided by a hash of the call id, so every replica and every replay judges the
same ones, and raising the sample rate only adds calls to the sample.

Cost: one HTTP request per sampled call, so its latency (typically 0.3-3 s for a hosted
model, bounded by `timeout`) and the provider's tokens; calls left out of the sample cost a
hash (about a microsecond). A judge that fails (time-out, HTTP error, a reply without a score)
never raises from `scan`: the call gets no hit and `errors` counts it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import string
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import ClassVar

import httpx

from fireline.domain.telemetry import Call
from fireline.scan.base import Hit, Part

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class JudgePrompt:
    """A named, versioned judge prompt; `$input`, `$output` and `$feature` fill the template.

    The template uses `string.Template` so that the JSON a prompt shows the judge keeps its
    braces as they are. Change the version whenever the wording changes: hits record it.

    >>> prompt = JudgePrompt("tone", "v2", "Rate the tone of: $output")
    >>> prompt.ref, prompt.render(input_text="hi", output_text="Go away.", feature="chat")
    ('tone@v2', 'Rate the tone of: Go away.')
    """

    name: str
    version: str
    template: str
    system: str = "You are a strict evaluator of an AI assistant's answers."

    @property
    def ref(self) -> str:
        """The prompt's name and version, as hits record it."""
        return f"{self.name}@{self.version}"

    def render(self, *, input_text: str, output_text: str, feature: str) -> str:
        """The user message for one call; unknown `$names` are left as they are."""
        return string.Template(self.template).safe_substitute(
            input=input_text, output=output_text, feature=feature
        )


DEFAULT_PROMPT = JudgePrompt(
    name="answer_quality",
    version="v1",
    template=(
        "Judge the answer an AI assistant gave in the feature '$feature'.\n\n"
        "Question:\n$input\n\nAnswer:\n$output\n\n"
        "Score the answer from 0 (wrong, harmful, off-topic or unhelpful) to 1 (correct, "
        'safe and helpful). Reply with JSON only: {"score": <number from 0 to 1>}'
    ),
)

_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.IGNORECASE)
_OBJECT = re.compile(r"\{.*\}", re.DOTALL)
_NUMBER = r"(\d+(?:\.\d+)?|\.\d+)(?:\s*(?:/|out of)\s*(\d+(?:\.\d+)?))?"
_SCORED = re.compile(r"score(?:\s+(?:of|is|was))?[^\w.]{0,4}" + _NUMBER, re.IGNORECASE)
_ANY_NUMBER = re.compile(_NUMBER, re.IGNORECASE)


def parse_score(reply: str) -> float | None:
    """The score in [0, 1] of a judge's reply, or None when it states none.

    A JSON object's "score" wins; then a number after the word "score"; then the last number
    of the reply, judges giving their verdict after their reasons. "8/10" reads as 0.8.

    >>> parse_score('{"score": 0.25, "reason": "vague"}'), parse_score("Score: 7/10")
    (0.25, 0.7)
    """
    text = _FENCE.sub("", reply.strip())
    found = _OBJECT.search(text)
    if found:
        try:
            data = json.loads(found.group())
        except ValueError:
            data = None
        if isinstance(data, dict) and "score" in data:
            value = data["score"]
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                return None
            return _in_range(str(value), None)
    numbers = list(_ANY_NUMBER.finditer(text))
    match = _SCORED.search(text) or (numbers[-1] if numbers else None)
    return _in_range(match.group(1), match.group(2)) if match else None


def _in_range(number: str, out_of: str | None) -> float | None:
    try:
        value = float(number) / (float(out_of) if out_of else 1.0)
    except (ValueError, ZeroDivisionError):
        return None
    return value if 0.0 <= value <= 1.0 else None


def sampled(call_id: str, rate: float) -> bool:
    """Whether `call_id` falls in a sample of `rate`: the same answer everywhere, every time."""
    digest = hashlib.blake2b(call_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < rate


class JudgeScanner:
    """Asks an LLM judge to score a deterministic sample of answers; low scores are hits.

    With no `base_url` it judges nothing, so `needs_endpoint` tells the contract test to give
    it one. `api_key` is sent as a bearer token and never shown by `repr` or logged. `judged`
    counts the calls the judge scored; `errors` those it failed to score.

    >>> scanner = JudgeScanner(api_key="sk-secret")
    >>> scanner.scan(JudgeScanner.example()), "sk-secret" in repr(scanner)
    ([], False)
    """

    name: ClassVar[str] = "judge"
    kinds: ClassVar[frozenset[str]] = frozenset({"judge_fail"})
    parts: ClassVar[frozenset[Part]] = frozenset({Part.INPUT, Part.OUTPUT})
    #: The example is a hit only for a judge reached at `base_url` that fails it.
    needs_endpoint: ClassVar[bool] = True

    def __init__(
        self,
        base_url: str | None = None,
        model: str = "judge",
        api_key: str | None = None,
        sample_rate: float = 0.05,
        threshold: float = 0.5,
        timeout: float = 10.0,
        prompt: JudgePrompt = DEFAULT_PROMPT,
        max_chars: int = 8_000,
    ) -> None:
        # The endpoint's root as OpenAI clients take it, e.g. "http://host:8000/v1".
        self.base_url = base_url
        self.model = model
        self.api_key = api_key
        # The share of calls judged: each costs a request to the judge model.
        self.sample_rate = sample_rate
        # Scores below it are failures.
        self.threshold = threshold
        # Seconds for the whole request: a slow judge must not hold up the scan.
        self.timeout = timeout
        self.prompt = prompt
        # Question and answer are cut to this many characters each, to bound the tokens.
        self.max_chars = max_chars
        self.judged = 0
        self.errors = 0
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None

    def __repr__(self) -> str:
        key = "'***'" if self.api_key else "None"
        return (
            f"JudgeScanner(base_url={self.base_url!r}, model={self.model!r}, api_key={key}, "
            f"sample_rate={self.sample_rate}, threshold={self.threshold}, "
            f"timeout={self.timeout}, prompt={self.prompt.ref!r})"
        )

    def scan(self, call: Call) -> list[Hit]:
        """A `judge_fail` hit when the sampled call's answer scores under the threshold."""
        if (
            self.base_url is None
            or not call.output_text
            or call.failed
            or not sampled(call.call_id, self.sample_rate)
        ):
            return []
        score = self._judge(call)
        if score is None:
            with self._lock:
                self.errors += 1
            return []
        with self._lock:
            self.judged += 1
        if score >= self.threshold:
            return []
        detail = f"prompt={self.prompt.ref} score={score:.2f}"
        return [Hit(self.name, "judge_fail", Part.CALL, score=round(1.0 - score, 3), detail=detail)]

    def _judge(self, call: Call) -> float | None:
        """The judge's score of the call, or None when the judge could not give one."""
        message = self.prompt.render(
            input_text=(call.input_text or "")[: self.max_chars],
            output_text=(call.output_text or "")[: self.max_chars],
            feature=call.feature,
        )
        body = {
            "model": self.model,
            "temperature": 0,
            "max_tokens": 200,
            "messages": [
                {"role": "system", "content": self.prompt.system},
                {"role": "user", "content": message},
            ],
        }
        try:
            response = self._http().post("chat/completions", json=body)
            response.raise_for_status()
            reply = response.json()["choices"][0]["message"]["content"]
        except httpx.HTTPStatusError as error:
            # Only the status: the request, and so the key, stays out of the log.
            log.warning("judge %s answered HTTP %d", self.prompt.ref, error.response.status_code)
            return None
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as error:
            log.warning("judge %s failed: %s", self.prompt.ref, type(error).__name__)
            return None
        score = parse_score(reply) if isinstance(reply, str) else None
        if score is None:
            log.warning("judge %s replied without a score", self.prompt.ref)
        return score

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
                self._client = httpx.Client(
                    base_url=f"{(self.base_url or '').rstrip('/')}/",
                    headers=headers,
                    timeout=self.timeout,
                )
            return self._client

    def close(self) -> None:
        """Close the connections to the judge."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def __enter__(self) -> JudgeScanner:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @classmethod
    def example(cls) -> Call:
        """A wrong answer, from a call that the default sample rate judges."""
        return Call(
            call_id=_EXAMPLE_ID,
            time=datetime(2026, 1, 1, tzinfo=UTC),
            feature="support-chat",
            input_text="How many days do I have to return a pair of shoes?",
            output_text="Returns are never accepted, and shoes cannot be exchanged either.",
        )


# The first id of the form example-judge-N that a 5% sample takes.
_EXAMPLE_ID = "example-judge-27"
