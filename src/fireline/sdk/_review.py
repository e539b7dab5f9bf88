"""Outputs held for a person (containment level 2): submit, wait for a decision, fall back."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from fireline.sdk._log import RateLimitedLog
from fireline.sdk._wire import valid_feature

#: What became of a held output.
ReviewStatus = Literal["approved", "edited", "rejected", "timed_out", "unavailable"]
#: The text to deliver when no person approved one: a string, or a function making one.
Fallback = str | Callable[[], str] | None

#: Answers worth a retry of the same submission (same client_id, so never a duplicate).
_TRANSIENT = frozenset({408, 425, 429, 500, 502, 503, 504})
_SUBMIT_ATTEMPTS = 3
_POLL_FIRST_S = 0.2
_POLL_MAX_S = 2.0
#: The least time a request gets, even when the wait is (nearly) over.
_MIN_REQUEST_S = 0.5


@dataclass(frozen=True, slots=True)
class ReviewOutcome:
    """What to deliver after a human review: the approved or edited output, or the fallback.

    `status` is "approved", "edited" or "rejected" (a person decided), "timed_out" (nobody
    decided in time) or "unavailable" (fireline could not be reached or refused the
    submission). `output` is the text to deliver; `delivered_fallback` says it is the app's
    fallback (None when the app gave none).

    >>> outcome = ReviewOutcome("edited", "Hello, Ada!", review_id=7)
    >>> outcome.reviewed, outcome.delivered_fallback
    (True, False)
    """

    status: ReviewStatus
    output: str | None
    review_id: int | None = None
    delivered_fallback: bool = False

    @property
    def reviewed(self) -> bool:
        """Whether a person approved the output (as it was, or edited)."""
        return self.status in ("approved", "edited")


def check_fallback(fallback: object) -> None:
    """Refuse a fallback that is neither a string, a callable nor None (a programming error)."""
    if fallback is not None and not isinstance(fallback, str) and not callable(fallback):
        raise TypeError("fallback must be a string, a zero-argument callable or None")


def fall_back(status: ReviewStatus, review_id: int | None, fallback: Fallback) -> ReviewOutcome:
    """The outcome that delivers the fallback (a callable one is called now, only now)."""
    text = fallback() if callable(fallback) else fallback
    return ReviewOutcome(status, text, review_id, delivered_fallback=True)


class ReviewRequest:
    """One held output's trip through fireline: submit (retried) and poll until a deadline."""

    def __init__(
        self,
        http: Callable[[], httpx.Client],
        base_url: str,
        headers: Mapping[str, str],
        log: RateLimitedLog,
        *,
        timeout: float,
    ) -> None:
        self._http = http
        self._url = f"{base_url}/v1/reviews"
        self._headers = {**headers, "Content-Type": "application/json"}
        self._log = log
        self._timeout = timeout

    def run(
        self,
        body: dict[str, Any],
        *,
        wait_s: float,
        fallback: Fallback,
    ) -> ReviewOutcome:
        """Submit `body`, wait up to `wait_s` seconds for a decision; never raises on failure."""
        deadline = time.monotonic() + wait_s
        if not valid_feature(body.get("feature")):
            self._log.warning("review-feature", "fireline: no review for invalid feature")
            return fall_back("unavailable", None, fallback)
        try:
            payload = json.dumps(
                {**body, "client_id": uuid.uuid4().hex, "wait_s": wait_s},
                default=str,
                ensure_ascii=False,
            ).encode()
        except (TypeError, ValueError):
            self._log.warning("review-json", "fireline: review context is not JSON", exc_info=True)
            return fall_back("unavailable", None, fallback)
        state = self._submit(payload, deadline)
        if state is None:
            return fall_back("unavailable", None, fallback)
        review_id = int(state["id"])
        reachable = True
        delay = _POLL_FIRST_S
        while True:
            decided = _decided(state, fallback, review_id)
            if decided is not None:
                return decided
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            time.sleep(min(delay, remaining))
            delay = min(delay * 1.5, _POLL_MAX_S)
            polled = self._send("GET", f"{self._url}/{review_id}", None, deadline)
            reachable = isinstance(polled, dict)
            if isinstance(polled, dict):
                state = polled
        return fall_back("timed_out" if reachable else "unavailable", review_id, fallback)

    def _submit(self, payload: bytes, deadline: float) -> dict[str, Any] | None:
        """The stored review, or None; transient failures are retried with the same body."""
        for attempt in range(_SUBMIT_ATTEMPTS):
            if attempt:
                pause = 0.1 * 3**attempt
                if time.monotonic() + pause >= deadline:
                    return None
                time.sleep(pause)
            answer = self._send("POST", self._url, payload, deadline)
            if isinstance(answer, dict):
                return answer
            if answer == "refused":
                return None
        return None

    def _send(
        self, method: str, url: str, payload: bytes | None, deadline: float
    ) -> dict[str, Any] | Literal["transient", "refused"]:
        wait = min(self._timeout, max(deadline - time.monotonic(), _MIN_REQUEST_S))
        try:
            response = self._http().request(
                method, url, content=payload, headers=self._headers, timeout=wait
            )
        except Exception as error:  # unreachable, timed out, closed client: never the app's
            self._log.warning("review-send", "fireline: review request failed: %s", error)
            return "transient"
        if response.status_code in (200, 201):
            try:
                found = response.json()
            except ValueError:
                found = None
            if isinstance(found, dict) and isinstance(found.get("id"), int):
                return found
            self._log.warning("review-answer", "fireline: unexpected review answer")
            return "transient"
        self._log.warning(
            "review-http",
            "fireline: review %s refused: HTTP %d: %s",
            method,
            response.status_code,
            response.text[:200],
        )
        return "transient" if response.status_code in _TRANSIENT else "refused"


def _decided(state: Mapping[str, Any], fallback: Fallback, review_id: int) -> ReviewOutcome | None:
    """The outcome of a decided review, or None while it is pending."""
    status = state.get("status")
    final = state.get("final_output")
    if status in ("approved", "edited") and isinstance(final, str):
        return ReviewOutcome(status, final, review_id)
    if status == "rejected":
        return fall_back("rejected", review_id, fallback)
    if status == "expired":
        return fall_back("timed_out", review_id, fallback)
    return None
