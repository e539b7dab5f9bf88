"""What cases are replayed against: a Python callable, or an OpenAI-compatible
chat-completions endpoint over HTTP.

>>> from fireline.evals.model import EvalCase
>>> target = CallableTarget(lambda text: text.upper())
>>> target(EvalCase(id="a", incident_id=1, feature="bot", input="hi")).text
'HI'
"""

from __future__ import annotations

import contextlib
import importlib
import os
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import httpx

from fireline.errors import InvalidInput, Problem
from fireline.evals.assertions import Output
from fireline.evals.model import EvalCase

#: Statuses worth retrying: rate limited, or the server failed.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_MAX_WAIT_S = 5.0


def _invalid(message: str) -> InvalidInput:
    return InvalidInput([Problem(None, None, message)])


class Target(Protocol):
    """Answers a case; `concurrency` is how many cases it may answer at once."""

    concurrency: int

    def __call__(self, case: EvalCase) -> Output: ...


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def output_of(answer: Any, latency_ms: float) -> Output:
    """A callable's answer as an Output: a string, or a dict with `output` (or `text`) and
    optionally `cited`, `cost_usd` (or `cost`), `output_tokens`, `finish_reason`, `error`.

    >>> output_of({"output": "ok", "cited": ["kb-1"], "cost": 0.01}, 5.0).cost_usd
    0.01
    """
    if isinstance(answer, str):
        return Output(text=answer, latency_ms=latency_ms)
    if not isinstance(answer, Mapping):
        return Output(error=f"the target returned {type(answer).__name__}, not str or dict")
    text = answer.get("output", answer.get("text", ""))
    cited = answer.get("cited")
    tokens = _number(answer.get("output_tokens"))
    error = answer.get("error")
    return Output(
        text=str(text) if text is not None else "",
        cited=[str(c) for c in cited] if isinstance(cited, list | tuple) else None,
        cost_usd=_number(answer.get("cost_usd", answer.get("cost"))),
        output_tokens=int(tokens) if tokens is not None else None,
        latency_ms=_number(answer.get("latency_ms")) or latency_ms,
        finish_reason=answer.get("finish_reason"),
        error=str(error) if error else None,
        extra={k: v for k, v in answer.items() if k not in {"output", "text"}},
    )


class CallableTarget:
    """A Python function of the case's input text (str → str, or → dict; see `output_of`).
    An exception it raises is the case's error."""

    def __init__(self, function: Callable[[str], Any], *, concurrency: int = 1) -> None:
        self.function = function
        self.concurrency = concurrency

    def __call__(self, case: EvalCase) -> Output:
        started = time.perf_counter()
        try:
            answer = self.function(case.input)
        except Exception as error:  # the target's failure is the case's result
            return Output(error=f"{type(error).__name__}: {error}")
        return output_of(answer, (time.perf_counter() - started) * 1000)


def load_callable(spec: str) -> Callable[[str], Any]:
    """The function named by "package.module:function"; InvalidInput if there is none."""
    module_name, _, name = spec.partition(":")
    if not module_name or not name:
        raise _invalid(f"--callable {spec!r}: expected module:function")
    try:
        found = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as error:
        raise _invalid(f"--callable {spec!r}: {error}") from None
    if not callable(found):
        raise _invalid(f"--callable {spec!r} is not callable")
    return found  # type: ignore[no-any-return]


class HttpTarget:
    """An OpenAI-compatible chat-completions endpoint: POST {base_url}/chat/completions with
    the case's messages (or its input as one user message); the API key, if any, is read
    from the environment variable `api_key_env`. 429 and 5xx answers and transport errors
    are retried `retries` times with exponential backoff (honouring Retry-After up to 5 s).
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str | None = None,
        timeout_s: float = 30.0,
        concurrency: int = 4,
        retries: int = 3,
        backoff_s: float = 0.2,
        system: str | None = None,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        headers = {"Content-Type": "application/json"}
        if api_key_env:
            key = environ.get(api_key_env)
            if not key:
                raise _invalid(f"the environment variable {api_key_env} (API key) is not set")
            headers["Authorization"] = f"Bearer {key}"
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.concurrency = max(1, concurrency)
        self.retries = retries
        self.backoff_s = backoff_s
        self.system = system
        limits = httpx.Limits(max_connections=self.concurrency)
        self._client = httpx.Client(headers=headers, timeout=timeout_s, limits=limits)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpTarget:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def body(self, case: EvalCase) -> dict[str, Any]:
        messages = list(case.messages or [{"role": "user", "content": case.input}])
        if self.system and not any(m.get("role") == "system" for m in messages):
            messages.insert(0, {"role": "system", "content": self.system})
        return {"model": self.model, "messages": messages}

    def __call__(self, case: EvalCase) -> Output:
        started = time.perf_counter()
        problem = ""
        retry_after: str | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self._wait(attempt, retry_after))
            try:
                response = self._client.post(self.url, json=self.body(case))
            except httpx.TransportError as error:
                problem, retry_after = f"{type(error).__name__}: {error}", None
                continue
            if response.status_code in RETRY_STATUSES:
                problem = f"HTTP {response.status_code}"
                retry_after = response.headers.get("Retry-After")
                continue
            latency = (time.perf_counter() - started) * 1000
            if response.is_error:
                return Output(error=f"HTTP {response.status_code}", latency_ms=latency)
            return _completion(response, latency)
        return Output(error=f"{problem} after {self.retries + 1} attempts")

    def _wait(self, attempt: int, retry_after: str | None) -> float:
        wait = self.backoff_s * 2 ** (attempt - 1)
        if retry_after:
            with contextlib.suppress(ValueError):
                wait = max(wait, float(retry_after))
        return float(min(wait, _MAX_WAIT_S))


def _completion(response: httpx.Response, latency_ms: float) -> Output:
    try:
        data = response.json()
        choice = data["choices"][0]
        text = choice["message"].get("content") or ""
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return Output(error="not a chat completion", latency_ms=latency_ms)
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    tokens = _number(usage.get("completion_tokens"))
    return Output(
        text=str(text),
        cited=None,
        cost_usd=_number(usage.get("cost_usd")),
        output_tokens=int(tokens) if tokens is not None else None,
        latency_ms=latency_ms,
        finish_reason=choice.get("finish_reason"),
    )
