"""The background thread that sends queued calls in batches, retrying what may succeed later."""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from fireline.sdk._log import RateLimitedLog
from fireline.sdk._outbox import Entry, Outbox, Outcome
from fireline.sdk._wire import MAX_BODY_BYTES, encode_call

_OPEN, _CLOSE, _SEP = b'{"calls":[', b"]}", b","
#: HTTP statuses worth sending the same batch again for.
RETRYABLE = frozenset({408, 429})
#: Smallest request body limit the sender shrinks to after HTTP 413 answers.
_MIN_BODY_BYTES = 16 * 1024


class Sender:
    """Sends calls from an `Outbox` to `POST {url}/v1/calls` on a daemon thread.

    Full batches go at once; partial ones every `flush_interval` seconds or on `flush()`.
    Network errors, HTTP 5xx, 408 and 429 keep the calls queued and back off exponentially
    (with jitter, honouring Retry-After, capped at `max_retry_delay`); other 4xx refuse them.
    """

    def __init__(
        self,
        outbox: Outbox,
        http: Callable[[], httpx.Client],
        endpoint: str,
        headers: Mapping[str, str],
        log: RateLimitedLog,
        *,
        flush_interval: float,
        max_batch: int,
        timeout: float,
        max_retry_delay: float,
    ) -> None:
        self._outbox = outbox
        self._http = http
        self._endpoint = endpoint
        self._headers = {**headers, "Content-Type": "application/json"}
        self._log = log
        self._flush_interval = flush_interval
        self._max_calls = max_batch
        self._max_bytes = MAX_BODY_BYTES
        self._timeout = timeout
        self._max_retry_delay = max_retry_delay
        self._failures = 0
        self._retry_after = 0.0
        self._stopping = False
        self._flush_asked = False
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    # ------------------------------------------------------------ control (app threads)

    def after_fork(self) -> None:
        """In a forked child: the parent's thread does not exist here; start afresh."""
        self._thread = None
        self._wake = threading.Event()
        self._start_lock = threading.Lock()

    def poke(self, pending: int) -> None:
        """Note that a call was queued: start the thread, wake it when a batch is full."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            self._start()
        if pending >= self._max_calls and not self._failures:
            self._wake.set()

    def request_flush(self) -> None:
        """Send whatever is queued now, without waiting for the interval or a backoff."""
        self._flush_asked = True
        self._wake.set()

    def stop(self, timeout: float) -> bool:
        """Stop the thread after its current request; whether it stopped within `timeout`."""
        self._stopping = True
        self._wake.set()
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(max(timeout, 0.0))
        return not thread.is_alive()

    def _start(self) -> None:
        with self._start_lock:
            if self._stopping or (self._thread is not None and self._thread.is_alive()):
                return
            self._thread = threading.Thread(
                target=self._run, name="fireline-sdk-sender", daemon=True
            )
            self._thread.start()

    # ------------------------------------------------------------ the thread

    def _run(self) -> None:
        while not self._stopping:
            self._wait(self._retry_delay() if self._failures else self._flush_interval)
            if self._stopping:
                return
            try:
                self._drain()
            except Exception as error:  # a bug here must never kill delivery for good
                self._failures += 1
                self._outbox.note_error(self._log.mask(f"internal error: {error!r}"))
                self._log.warning("internal", "fireline: sender error %r; will retry", error)

    def _wait(self, delay: float) -> None:
        deadline = time.monotonic() + delay
        while not self._stopping:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._wake.wait(remaining):
                return
            self._wake.clear()
            if self._stopping or self._flush_asked:
                return
            if not self._failures and self._outbox.pending >= self._max_calls:
                return

    def _retry_delay(self) -> float:
        base = min(self._flush_interval, 1.0) * 2 ** min(self._failures - 1, 30)
        delay = min(self._max_retry_delay, base)
        delay = random.uniform(delay / 2, delay)
        return max(delay, min(self._retry_after, self._max_retry_delay))

    def _drain(self) -> None:
        self._flush_asked = False
        while not self._stopping:
            batch = self._outbox.take(self._max_calls)
            if not batch:
                return
            try:
                progressed = self._send(batch)
            except BaseException:
                self._outbox.settle((entry, Outcome.RETRY) for entry in batch)
                raise
            if not progressed:
                return

    def _send(self, batch: list[Entry]) -> bool:
        """Send what fits of `batch`; False when the server should be left alone for a while."""
        chosen: list[Entry] = []
        settled: list[tuple[Entry, Outcome]] = []
        size = len(_OPEN) + len(_CLOSE)
        for entry in batch:
            payload = entry.payload if entry.payload is not None else self._encode(entry)
            if payload is None:
                settled.append((entry, Outcome.INVALID))
                continue
            extra = len(payload) + (len(_SEP) if chosen else 0)
            if chosen and size + extra > self._max_bytes:
                settled.append((entry, Outcome.RETRY))  # next request
                continue
            chosen.append(entry)
            size += extra
        if settled:
            self._outbox.settle(settled)
        if not chosen:
            return True
        body = _OPEN + _SEP.join(e.payload for e in chosen if e.payload is not None) + _CLOSE
        return self._post(body, chosen)

    def _encode(self, entry: Entry) -> bytes | None:
        payload, notes = encode_call(entry.fields)
        feature = entry.fields.get("feature")
        entry.fields = {}  # the JSON is all that is needed from now on
        if payload is not None and len(payload) + len(_OPEN) + len(_CLOSE) > MAX_BODY_BYTES:
            notes = [f"it is {len(payload)} bytes, over the request limit"]
            payload = None
        if payload is None:
            self._log.warning(
                "invalid", "fireline: a call was not sent because %s", "; ".join(notes)
            )
            self._outbox.note_error(self._log.mask(f"invalid call: {notes[0]}"))
        elif notes:
            self._log.warning(
                "repaired",
                "fireline: a call of feature %r was repaired: %s",
                feature,
                "; ".join(notes[:5]),
            )
        entry.payload = payload
        return payload

    def _post(self, body: bytes, chosen: list[Entry]) -> bool:
        try:
            response = self._http().post(
                self._endpoint, content=body, headers=self._headers, timeout=self._timeout
            )
        except Exception as error:
            return self._retry(chosen, f"cannot reach fireline ({type(error).__name__}: {error})")
        status = response.status_code
        if 200 <= status < 300:
            self._delivered(chosen, response)
            return True
        detail = _detail(response)
        if status in RETRYABLE or status >= 500:
            self._retry_after = _retry_after(response)
            return self._retry(chosen, f"HTTP {status} from fireline: {detail}")
        if status == 413 and len(chosen) > 1:
            self._max_calls = max(1, len(chosen) // 2)
            self._max_bytes = max(_MIN_BODY_BYTES, len(body) // 2)
            self._outbox.settle((entry, Outcome.RETRY) for entry in chosen)
            self._log.warning(
                "too-large",
                "fireline: HTTP 413 for %d calls; sending at most %d at a time",
                len(chosen),
                self._max_calls,
            )
            return True
        refused = _refused_rows(response, len(chosen)) if status == 422 else None
        count = len(refused) if refused else len(chosen)
        problem = self._log.mask(f"HTTP {status} from fireline: {detail}")
        self._outbox.note_error(problem)  # before settling: a flush then sees it in stats()
        self._log.warning("rejected", "fireline: %s; %d calls dropped", problem, count)
        if refused:
            self._outbox.settle(
                (entry, Outcome.REJECTED if row in refused else Outcome.RETRY)
                for row, entry in enumerate(chosen, start=1)
            )
        else:
            self._outbox.settle((entry, Outcome.REJECTED) for entry in chosen)
        return True

    def _delivered(self, chosen: list[Entry], response: httpx.Response) -> None:
        self._failures = 0
        self._retry_after = 0.0
        answer = _json(response)
        if isinstance(answer, dict):
            for key in ("duplicates", "late"):
                value = answer.get(key)
                if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                    self._outbox.count(key, value)
        self._outbox.settle((entry, Outcome.SENT) for entry in chosen)

    def _retry(self, chosen: list[Entry], error: str) -> bool:
        self._failures += 1
        self._outbox.count("retries", error=self._log.mask(error))
        self._log.warning(
            "retry", "fireline: %s; %d calls kept for a retry", error, self._outbox.pending
        )
        self._outbox.settle((entry, Outcome.RETRY) for entry in chosen)
        return False


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except Exception:
        return None


def _detail(response: httpx.Response) -> str:
    answer = _json(response)
    if isinstance(answer, dict) and isinstance(answer.get("detail"), str):
        detail: str = answer["detail"]
    else:
        detail = response.reason_phrase or "no detail"
    return detail[:300]


def _refused_rows(response: httpx.Response, size: int) -> set[int] | None:
    """The 1-based rows a 422 answer names, if it names only rows of the batch."""
    answer = _json(response)
    problems = answer.get("problems") if isinstance(answer, dict) else None
    if not isinstance(problems, list) or not problems:
        return None
    rows: set[int] = set()
    for problem in problems:
        row = problem.get("row") if isinstance(problem, dict) else None
        if not isinstance(row, int) or isinstance(row, bool) or not 1 <= row <= size:
            return None
        rows.add(row)
    return rows


def _retry_after(response: httpx.Response) -> float:
    value = response.headers.get("retry-after", "")
    try:
        seconds = float(value)
    except ValueError:
        return 0.0
    return seconds if math.isfinite(seconds) and seconds > 0 else 0.0
