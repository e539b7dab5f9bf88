"""Occasional warnings on the `fireline.sdk` logger that never carry the API token."""

from __future__ import annotations

import logging
import os
import threading
import time

logger = logging.getLogger("fireline.sdk")

#: Seconds between two log lines about the same kind of problem.
LOG_EVERY_S = 60.0


class RateLimitedLog:
    """Logs each kind of problem at most once per `every` seconds, with the token masked."""

    def __init__(self, secret: str | None, every: float = LOG_EVERY_S) -> None:
        self._secret = secret
        self._every = every
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self.after_fork()

    def after_fork(self) -> None:
        """A fresh lock (in a forked child the parent's may be held forever)."""
        self._lock = threading.Lock()

    def warning(self, kind: str, message: str, *args: object, exc_info: bool = False) -> None:
        """Log `message % args` unless `kind` was logged less than `every` seconds ago."""
        now = time.monotonic()
        with self._lock:
            last = self._last.get(kind)
            if last is not None and now - last < self._every:
                self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
                return
            self._last[kind] = now
            suppressed = self._suppressed.pop(kind, 0)
        try:
            text = message % args if args else message
        except (TypeError, ValueError):
            text = message
        if suppressed:
            text += f" ({suppressed} similar messages suppressed)"
        logger.warning("%s", self.mask(text), exc_info=exc_info)

    def mask(self, text: str) -> str:
        """`text` with the token replaced by `***`."""
        if self._secret:
            text = text.replace(self._secret, "***")
        return text


#: For problems whose messages cannot contain a token (app code, programming mistakes).
sdk_log = RateLimitedLog(None)
if hasattr(os, "register_at_fork"):  # pragma: no branch - not on Windows
    os.register_at_fork(after_in_child=sdk_log.after_fork)
