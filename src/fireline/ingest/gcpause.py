"""Pausing CPython's cyclic garbage collector while a batch of calls is built and stored.

Reading, validating and storing a batch allocates a few containers per call (the parsed
row, the validated fields), all alive until the batch is stored. As they accumulate, the
cyclic collector scans them again and again, and with them the whole heap, finding no
garbage: a batch holds no reference cycles. For a JSONL file of 100,000 calls that was a
third of the import's time; in a server, whose heap is bigger, a full collection takes
tens of milliseconds. So the collector is paused while a batch is being built and resumed
(if it was running) as soon as it is; reference counting frees memory as ever, and the
collector finds any cycle made meanwhile when it runs next.

A server receiving exports from several clients may have a batch in one thread start
before another's ends, again and again, so that the collector would never resume: while
it stays paused, the young generations are collected every `YOUNG_EVERY_S` seconds and
all of them every `ALL_EVERY_S`, when a batch ends.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

#: Seconds between collections of the young generations while the pause lasts.
YOUNG_EVERY_S = 1.0
#: Seconds between full collections while the pause lasts.
ALL_EVERY_S = 60.0


class _Pause:
    """Who holds the collector paused; the last to leave resumes it if it was running."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.holders = 0
        self.resume = False
        self.young_at = 0.0  # when the young generations, or all, were last collected
        self.all_at = 0.0

    def collect_if_due(self) -> None:
        now = time.monotonic()
        if now - self.all_at >= ALL_EVERY_S:
            gc.collect()
            self.young_at = self.all_at = now
        elif now - self.young_at >= YOUNG_EVERY_S:
            gc.collect(1)
            self.young_at = now


_pause = _Pause()


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector paused for the `with` block (threads may nest it)."""
    with _pause.lock:
        if _pause.holders == 0:
            _pause.resume = gc.isenabled()
            gc.disable()
            _pause.young_at = _pause.all_at = time.monotonic()
        _pause.holders += 1
    try:
        yield
    finally:
        with _pause.lock:
            _pause.holders -= 1
            if _pause.resume:
                if _pause.holders == 0:
                    gc.enable()
                else:  # still paused for another batch: it might stay so for long
                    _pause.collect_if_due()
