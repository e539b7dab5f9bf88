"""The bounded queue: drops the oldest when full, and accounts for every call exactly once."""

from __future__ import annotations

import threading
import time

from fireline.sdk import Stats
from fireline.sdk._outbox import Entry, Outbox, Outcome


def fill(outbox: Outbox, n: int) -> None:
    for i in range(n):
        outbox.put({"call_id": f"c{i}"})


def ids(entries: list[Entry]) -> list[str]:
    return [entry.fields["call_id"] for entry in entries]


def accounted(stats: Stats) -> int:
    return stats.sent + stats.dropped + stats.rejected + stats.invalid + stats.queued


def test_a_full_queue_drops_its_oldest_calls_and_counts_them() -> None:
    outbox = Outbox(capacity=3)
    fill(outbox, 5)

    assert ids(outbox.take(10)) == ["c2", "c3", "c4"]
    stats = outbox.stats()
    assert (stats.recorded, stats.dropped, stats.queued) == (5, 2, 3)


def test_calls_stay_queued_until_their_request_succeeds() -> None:
    outbox = Outbox(capacity=10)
    fill(outbox, 3)

    batch = outbox.take(2)
    outbox.settle((entry, Outcome.RETRY) for entry in batch)
    again = outbox.take(2)
    assert again == batch, "the same calls, so the same call ids, are sent again"

    outbox.settle((entry, Outcome.SENT) for entry in again)
    assert ids(outbox.take(10)) == ["c2"]
    assert outbox.stats().sent == 2


def test_calls_in_flight_are_not_taken_twice() -> None:
    outbox = Outbox(capacity=10)
    fill(outbox, 3)

    first = outbox.take(2)
    assert ids(outbox.take(2)) == ["c2"]
    assert set(ids(first)) == {"c0", "c1"}


def test_a_call_evicted_in_flight_counts_as_sent_if_its_request_succeeds() -> None:
    outbox = Outbox(capacity=2)
    fill(outbox, 2)
    batch = outbox.take(2)
    outbox.put({"call_id": "c2"})  # evicts c0, which is in flight

    outbox.settle((entry, Outcome.SENT) for entry in batch)
    stats = outbox.stats()
    assert (stats.sent, stats.dropped, stats.queued) == (2, 0, 1)
    assert accounted(stats) == stats.recorded


def test_a_call_evicted_in_flight_counts_as_dropped_if_its_request_fails() -> None:
    outbox = Outbox(capacity=2)
    fill(outbox, 2)
    batch = outbox.take(2)
    outbox.put({"call_id": "c2"})

    outbox.settle((entry, Outcome.RETRY) for entry in batch)
    stats = outbox.stats()
    assert (stats.sent, stats.dropped, stats.queued) == (0, 1, 2)
    assert ids(outbox.take(10)) == ["c1", "c2"]
    assert accounted(stats) == stats.recorded


def test_refused_rows_leave_the_queue_and_the_others_stay() -> None:
    outbox = Outbox(capacity=10)
    fill(outbox, 3)
    a, b, c = outbox.take(3)

    outbox.settle([(a, Outcome.RETRY), (b, Outcome.REJECTED), (c, Outcome.INVALID)])
    stats = outbox.stats()
    assert (stats.rejected, stats.invalid, stats.queued) == (1, 1, 1)
    assert outbox.take(10) == [a]


def test_waiting_for_settlement_ends_when_the_calls_are_settled_or_at_the_deadline() -> None:
    outbox = Outbox(capacity=10)
    fill(outbox, 2)
    started = time.monotonic()
    assert outbox.wait_settled(outbox.last_seq, time.monotonic() + 0.05) is False
    assert time.monotonic() - started < 0.5

    batch = outbox.take(2)
    settle = threading.Timer(0.05, outbox.settle, [[(e, Outcome.SENT) for e in batch]])
    settle.start()
    assert outbox.wait_settled(outbox.last_seq, time.monotonic() + 5) is True
    settle.join()


def test_after_closing_new_calls_are_dropped_and_unsent_ones_abandoned() -> None:
    outbox = Outbox(capacity=10)
    fill(outbox, 2)
    outbox.close()
    outbox.put({"call_id": "late"})

    assert outbox.abandon() == 2
    stats = outbox.stats()
    assert (stats.dropped, stats.queued) == (3, 0)
    assert accounted(stats) == stats.recorded
