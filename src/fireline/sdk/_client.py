"""`FirelineClient`: what an AI app holds to report its calls and read its guards."""

from __future__ import annotations

import atexit
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, TypeVar, Unpack

import httpx

import fireline
from fireline.sdk._guards import ContainmentLevel, Guard, GuardCache, default_guard
from fireline.sdk._instrument import ResultHook, instrument
from fireline.sdk._log import RateLimitedLog
from fireline.sdk._outbox import Outbox, Stats
from fireline.sdk._record import CallFields, CallRecord, new_call_id
from fireline.sdk._review import Fallback, ReviewOutcome, ReviewRequest, check_fallback, fall_back
from fireline.sdk._sender import Sender
from fireline.sdk._wire import MAX_BATCH_CALLS

F = TypeVar("F", bound=Callable[..., Any])


class FirelineClient:
    """Reports an app's AI calls to fireline and reads its guards, never blocking or raising.

    Calls are queued in memory (at most `max_queue`; the oldest are dropped beyond) and sent
    in batches of up to `max_batch` by a daemon thread, every `flush_interval` seconds or as
    soon as a batch is full. Guards are cached for `guard_ttl` seconds; a feature's first
    read waits for fireline unless `guard_wait` is False (it then gets the default until a
    background read answers) or the feature is in `guard_prefetch` (read at creation).
    `review` waits `review_wait_s` seconds for a person's decision unless told otherwise.

    >>> client = FirelineClient("http://127.0.0.1:8000", "fl_token", enabled=False)
    >>> with client.call("support-bot", model="gpt-4o") as call:
    ...     call.output_tokens = 120
    >>> client.guard("support-bot").enabled
    True
    >>> client.close()
    True
    """

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        flush_interval: float = 1.0,
        max_batch: int = 500,
        max_queue: int = 10_000,
        timeout: float = 5.0,
        max_retry_delay: float = 30.0,
        guard_ttl: float = 5.0,
        guard_timeout: float = 1.0,
        default_guard_level: int = 0,
        guard_wait: bool = True,
        guard_prefetch: Iterable[str] = (),
        exit_timeout: float = 2.0,
        review_wait_s: float = 30.0,
        enabled: bool = True,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._url = _base_url(url)
        _positive(flush_interval=flush_interval, timeout=timeout, guard_timeout=guard_timeout)
        _positive(max_retry_delay=max_retry_delay, review_wait_s=review_wait_s)
        _at_least_zero(guard_ttl=guard_ttl, exit_timeout=exit_timeout)
        if not 1 <= max_batch <= MAX_BATCH_CALLS:
            raise ValueError(f"max_batch must be between 1 and {MAX_BATCH_CALLS}")
        if max_queue < 1:
            raise ValueError("max_queue must be at least 1")
        if default_guard_level not in set(ContainmentLevel):
            raise ValueError("default_guard_level must be a containment level from 0 to 5")
        self._enabled = enabled
        self._exit_timeout = exit_timeout
        self._transport = transport
        self._timeout = timeout
        self._default_level = default_guard_level
        self._review_wait_s = review_wait_s
        token = _clean_token(token)
        headers = {"User-Agent": f"fireline-sdk/{fireline.__version__}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._log = RateLimitedLog(token)
        self._http_client: httpx.Client | None = None
        self._http_lock = threading.Lock()
        self._closed = False
        self._outbox = Outbox(max_queue)
        self._sender = Sender(
            self._outbox,
            self._http,
            f"{self._url}/v1/calls",
            headers,
            self._log,
            flush_interval=flush_interval,
            max_batch=max_batch,
            timeout=timeout,
            max_retry_delay=max_retry_delay,
        )
        self._guards = GuardCache(
            self._http,
            self._url,
            headers,
            self._outbox,
            self._log,
            ttl=guard_ttl,
            timeout=guard_timeout,
            default_level=default_guard_level,
            wait=guard_wait,
        )
        self._review = ReviewRequest(self._http, self._url, headers, self._log, timeout=timeout)
        self._exit_hook = _exit_hook(self)
        if enabled:
            atexit.register(self._exit_hook)
            _after_fork(self)
            if isinstance(guard_prefetch, str):  # one name, not its letters
                guard_prefetch = (guard_prefetch,)
            self._guards.prefetch(guard_prefetch)

    # ------------------------------------------------------------ recording calls

    def record(
        self,
        feature: str,
        *,
        time: datetime | None = None,
        status: Literal["ok", "error"] | None = None,
        error_type: str | None = None,
        latency_ms: float | None = None,
        time_to_first_token_ms: float | None = None,
        call_id: str | None = None,
        **fields: Unpack[CallFields],
    ) -> str:
        """Queue one call the app measured itself; returns its call id. Never raises.

        `time` is when the call started (default: now); `status` defaults to "error" when
        `error_type` is given, else "ok".

        >>> client = FirelineClient("http://127.0.0.1:8000", "fl_token", enabled=False)
        >>> call_id = client.record("support-bot", latency_ms=812.5, model="gpt-4o")
        >>> len(call_id)
        32
        """
        try:
            record = CallRecord(feature, **fields)
            if call_id is not None:
                record.call_id = call_id
            if time is not None:
                record.time = time
            record.status = status
            record.error_type = error_type
            record.latency_ms = latency_ms
            record.time_to_first_token_ms = time_to_first_token_ms
            self._enqueue(record.snapshot())
            return record.call_id
        except Exception:  # pragma: no cover - nothing above raises; belt and braces
            self._log.warning("record", "fireline: could not record a call", exc_info=True)
            return call_id or new_call_id()

    def call(self, feature: str, **fields: Unpack[CallFields]) -> CallRecord:
        """A context manager that records one call around a block and yields its record.

        >>> client = FirelineClient("http://127.0.0.1:8000", "fl_token", enabled=False)
        >>> with client.call("support-bot", model="gpt-4o") as call:
        ...     call.output_tokens = 120
        ...     call.set_attribute("cache_hit", False)
        >>> call.status, call.latency_ms is not None
        ('ok', True)
        """
        return CallRecord(feature, self._enqueue, **fields)

    def observe(
        self,
        feature: str,
        *,
        on_result: ResultHook | None = None,
        **fields: Unpack[CallFields],
    ) -> Callable[[F], F]:
        """A decorator that records one call per invocation of a function or coroutine.

        Inside, `current_call()` is the record; `on_result(record, result)` may copy fields
        from the return value. Exceptions mark the call as an error and propagate unchanged.

        >>> client = FirelineClient("http://127.0.0.1:8000", "fl_token", enabled=False)
        >>> @client.observe("support-bot", model="gpt-4o")
        ... def answer(question: str) -> str:
        ...     return "42"
        >>> answer("meaning of life?")
        '42'
        """

        def begin() -> CallRecord:
            return CallRecord(feature, self._enqueue, **fields)

        def decorate(fn: F) -> F:
            return instrument(fn, begin, on_result)  # type: ignore[return-value]

        return decorate

    def _enqueue(self, fields: dict[str, Any]) -> None:
        if not self._enabled:
            return
        try:
            pending = self._outbox.put(fields)
            if not self._closed:
                self._sender.poke(pending)
        except Exception:  # pragma: no cover - e.g. no thread can be started at shutdown
            self._log.warning("enqueue", "fireline: could not queue a call", exc_info=True)

    # ------------------------------------------------------------ guards

    def guard(self, feature: str) -> Guard:
        """The feature's guard: fresh, cached, last known (fireline down) or the default.

        Never raises; waits at most `guard_timeout` seconds, only on a feature's first read,
        and never with `guard_wait=False` or for a feature in `guard_prefetch`.
        """
        if not self._enabled:
            return default_guard(feature, self._default_level)
        try:
            return self._guards.get(feature)
        except Exception:  # pragma: no cover - the cache catches; belt and braces
            self._log.warning("guard", "fireline: guard read failed", exc_info=True)
            return default_guard(str(feature), self._default_level)

    def should_call_model(self, feature: str) -> bool:
        """Whether to call the model now: yes when enabled, else for a random probe share."""
        return self.guard(feature).should_call_model()

    # ------------------------------------------------------------ human review (level 2)

    def review(
        self,
        feature: str,
        input: str,
        output: str,
        *,
        context: Mapping[str, Any] | None = None,
        call_id: str | None = None,
        wait_s: float | None = None,
        fallback: Fallback = None,
    ) -> ReviewOutcome:
        """Hold an output for a person and wait for the decision; never raises on failure.

        For a feature at level 2 (`client.guard(feature).level == 2`). Blocks up to `wait_s`
        seconds (default `review_wait_s`), plus one request at most; then, or if fireline
        cannot be reached, the outcome carries `fallback` (a callable one is called then;
        what it raises is the app's and propagates).

        >>> client = FirelineClient("http://127.0.0.1:8000", "fl_token", enabled=False)
        >>> client.review("support-bot", "Hi?", "Hello!", fallback="An agent will answer.")
        ReviewOutcome(status='unavailable', output='An agent will answer.', review_id=None, \
delivered_fallback=True)
        """
        wait = self._review_wait_s if wait_s is None else wait_s
        if not wait > 0:
            raise ValueError("wait_s must be > 0")
        check_fallback(fallback)
        if not self._enabled or self._closed:
            return fall_back("unavailable", None, fallback)
        body: dict[str, Any] = {"feature": feature, "input": input, "output": output}
        body.update(call_id=call_id, context=dict(context or {}))
        return self._review.run(body, wait_s=wait, fallback=fallback)

    # ------------------------------------------------------------ lifecycle

    def flush(self, timeout: float = 5.0) -> bool:
        """Send every call queued so far; True if all were settled within `timeout` seconds.

        Settled means stored, refused or dropped: see `stats()`.
        """
        if not self._enabled:
            return True
        deadline = time.monotonic() + max(timeout, 0.0)
        target = self._outbox.last_seq
        if self._outbox.pending:
            try:
                self._sender.poke(0)
                self._sender.request_flush()
            except Exception:  # e.g. no new thread at interpreter shutdown
                self._log.warning("flush", "fireline: could not flush", exc_info=True)
                return False
        return self._outbox.wait_settled(target, deadline)

    def close(self, timeout: float = 5.0) -> bool:
        """Flush for at most `timeout` seconds, then stop; True if nothing was left unsent.

        Calls recorded after `close()` are dropped; guards read before stay readable.
        """
        if self._closed:
            return self._outbox.pending == 0
        deadline = time.monotonic() + max(timeout, 0.0)
        flushed = self.flush(timeout)
        self._closed = True
        self._outbox.close()
        self._guards.close()
        self._sender.stop(deadline - time.monotonic())
        abandoned = self._outbox.abandon()
        if abandoned:
            self._log.warning("close", "fireline: closed with %d calls unsent", abandoned)
        atexit.unregister(self._exit_hook)
        with self._http_lock:
            client, self._http_client = self._http_client, None
        if client is not None:
            client.close()
        return flushed and abandoned == 0

    def stats(self) -> Stats:
        """What became of the calls recorded so far, and how guard reads went."""
        return self._outbox.stats()

    def __enter__(self) -> FirelineClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FirelineClient({self._url!r}, enabled={self._enabled})"

    # ------------------------------------------------------------ plumbing

    def _http(self) -> httpx.Client:
        with self._http_lock:
            if self._closed:
                raise RuntimeError("the fireline client is closed")
            if self._http_client is None:
                self._http_client = httpx.Client(
                    transport=self._transport,
                    timeout=self._timeout,
                    follow_redirects=False,
                    trust_env=True,
                )
            return self._http_client

    def _reset_after_fork(self) -> None:
        self._log.after_fork()
        self._http_lock = threading.Lock()
        self._http_client = None  # the parent's connections are not ours
        self._outbox.after_fork()
        self._sender.after_fork()
        self._guards.after_fork()


def _exit_hook(client: FirelineClient) -> Callable[[], None]:
    ref = weakref.ref(client)

    def flush_at_exit() -> None:
        found = ref()
        if found is not None:
            found.close(found._exit_timeout)

    return flush_at_exit


def _after_fork(client: FirelineClient) -> None:
    if not hasattr(os, "register_at_fork"):  # pragma: no cover - Windows
        return
    ref = weakref.ref(client)

    def reset() -> None:
        found = ref()
        if found is not None:
            found._reset_after_fork()

    os.register_at_fork(after_in_child=reset)


def _base_url(url: str) -> str:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as error:
        raise ValueError(f"not a URL: {error}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError("url must be http:// or https:// with a host, e.g. http://127.0.0.1:8000")
    if parsed.userinfo:
        raise ValueError("url must not contain credentials; pass the API token as `token`")
    return str(url).rstrip("/")


def _clean_token(token: str | None) -> str | None:
    """The token without surrounding whitespace (a newline read from a file, say)."""
    if token is None:
        return None
    if not isinstance(token, str):
        raise ValueError("token must be a string (or None for a server without tokens)")
    token = token.strip()
    if not token.isprintable() or " " in token:
        raise ValueError("token must not contain spaces or control characters")
    return token or None


def _positive(**values: float) -> None:
    for key, value in values.items():
        if not value > 0:
            raise ValueError(f"{key} must be > 0")


def _at_least_zero(**values: float) -> None:
    for key, value in values.items():
        if not value >= 0:
            raise ValueError(f"{key} must be >= 0")
