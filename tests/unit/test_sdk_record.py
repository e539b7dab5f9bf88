"""Recording around app code: the record's fields, the decorator's kinds of function."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Generator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from fireline.sdk import CallRecord, current_call
from fireline.sdk._instrument import instrument
from fireline.sdk._log import RateLimitedLog


class Recorder:
    """Collects what records hand to the client, as the client's queue would."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def begin(self, **fields: Any) -> CallRecord:
        return CallRecord("support-bot", self.calls.append, **fields)


def test_a_block_is_recorded_once_with_time_latency_and_status() -> None:
    recorder = Recorder()
    before = datetime.now(UTC)
    with recorder.begin(model="gpt-4o") as call:
        time.sleep(0.01)

    [sent] = recorder.calls
    assert sent["call_id"] == call.call_id
    assert before <= sent["time"] <= datetime.now(UTC)
    assert sent["latency_ms"] >= 10
    assert (sent["status"], sent["model"]) == ("ok", "gpt-4o")


def test_an_exception_in_the_block_propagates_and_marks_the_call_as_an_error() -> None:
    recorder = Recorder()
    with pytest.raises(TimeoutError), recorder.begin():
        raise TimeoutError("provider took too long")

    [sent] = recorder.calls
    assert (sent["status"], sent["error_type"]) == ("error", "TimeoutError")


def test_an_error_type_the_app_chose_wins_over_the_exception_class() -> None:
    recorder = Recorder()

    def fail(call: CallRecord) -> None:
        call.error_type = "http_503"
        raise RuntimeError("503")

    with pytest.raises(RuntimeError), recorder.begin() as call:
        fail(call)

    assert recorder.calls[0]["error_type"] == "http_503"


def test_a_latency_the_app_measured_is_kept() -> None:
    recorder = Recorder()
    with recorder.begin() as call:
        call.latency_ms = 812.5

    assert recorder.calls[0]["latency_ms"] == 812.5


def test_update_sets_fields_and_merges_attributes() -> None:
    call = CallRecord("support-bot", attributes={"a": 1})
    call.update(output_tokens=3, attributes={"b": 2}, retrieved_doc_ids=("d1",))

    assert call.output_tokens == 3
    assert call.attributes == {"a": 1, "b": 2}
    assert call.retrieved_doc_ids == ["d1"]


def test_an_unknown_field_is_ignored_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    call = CallRecord("support-bot")
    call.update(colour="blue")  # type: ignore[call-arg]

    assert not hasattr(call, "colour")
    assert "colour" in caplog.text


def test_each_record_gets_a_new_call_id() -> None:
    assert len({CallRecord("support-bot").call_id for _ in range(1000)}) == 1000


def test_a_record_is_sent_once_even_if_finished_twice() -> None:
    recorder = Recorder()
    call = recorder.begin().start()
    call.finish()
    call.finish(ValueError())

    assert len(recorder.calls) == 1
    assert recorder.calls[0]["status"] == "ok"


def test_the_snapshot_sent_is_not_changed_by_later_edits() -> None:
    recorder = Recorder()
    with recorder.begin() as call:
        call.set_attribute("a", 1)
    call.set_attribute("a", 2)

    assert recorder.calls[0]["attributes"] == {"a": 1}


def test_current_call_is_the_innermost_record_and_a_harmless_one_outside() -> None:
    recorder = Recorder()
    with recorder.begin() as outer:
        with recorder.begin() as inner:
            assert current_call() is inner
        assert current_call() is outer
    detached = current_call()
    detached.output_tokens = 5

    assert detached is not outer
    assert len(recorder.calls) == 2


def test_the_decorator_passes_arguments_and_the_result_through() -> None:
    recorder = Recorder()

    def add(a: int, b: int = 0) -> int:
        """Add two numbers."""
        return a + b

    wrapped = instrument(add, recorder.begin, None)

    assert wrapped(2, b=3) == 5
    assert wrapped.__name__ == "add"
    assert wrapped.__doc__ == "Add two numbers."
    assert recorder.calls[0]["status"] == "ok"


def test_on_result_copies_fields_from_the_return_value() -> None:
    recorder = Recorder()

    def tokens(call: CallRecord, result: dict[str, int]) -> None:
        call.output_tokens = result["tokens"]

    wrapped = instrument(lambda: {"tokens": 9}, recorder.begin, tokens)
    wrapped()

    assert recorder.calls[0]["output_tokens"] == 9


def test_a_failing_on_result_hook_does_not_reach_the_app(caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder()

    def broken(call: CallRecord, result: object) -> None:
        raise KeyError("usage")

    assert instrument(lambda: "answer", recorder.begin, broken)() == "answer"
    assert len(recorder.calls) == 1
    assert "on_result" in caplog.text


def test_a_failing_recorder_does_not_stop_the_app_code() -> None:
    def broken_begin() -> CallRecord:
        raise RuntimeError("cannot record")

    assert instrument(lambda: "answer", broken_begin, None)() == "answer"


def test_a_decorated_coroutine_sees_its_record_across_awaits() -> None:
    recorder = Recorder()

    async def answer() -> str:
        await asyncio.sleep(0.01)
        current_call().output_tokens = 4
        return "ok"

    assert asyncio.run(instrument(answer, recorder.begin, None)()) == "ok"
    assert recorder.calls[0]["output_tokens"] == 4
    assert recorder.calls[0]["latency_ms"] >= 10


def test_concurrent_coroutines_each_fill_their_own_record() -> None:
    recorder = Recorder()

    async def answer(n: int) -> None:
        current_call().output_tokens = n
        await asyncio.sleep(0.01 * (5 - n))
        current_call().input_tokens = n

    async def main() -> None:
        wrapped = instrument(answer, recorder.begin, None)
        await asyncio.gather(*(wrapped(n) for n in range(5)))

    asyncio.run(main())
    assert sorted((c["input_tokens"], c["output_tokens"]) for c in recorder.calls) == [
        (n, n) for n in range(5)
    ]


def test_a_decorated_generator_is_measured_to_exhaustion_with_time_to_first_item() -> None:
    recorder = Recorder()

    def stream() -> Iterator[str]:
        time.sleep(0.01)
        yield "Hel"
        time.sleep(0.02)
        yield "lo"

    assert "".join(instrument(stream, recorder.begin, None)()) == "Hello"
    [sent] = recorder.calls
    assert sent["status"] == "ok"
    assert 10 <= sent["time_to_first_token_ms"] < sent["latency_ms"]
    assert sent["latency_ms"] >= 30


def test_a_generator_stopped_early_is_ok_and_one_that_raises_is_an_error() -> None:
    recorder = Recorder()

    def stream() -> Generator[int]:
        yield 1
        yield 2
        raise ConnectionError("stream cut")

    items = instrument(stream, recorder.begin, None)()
    assert next(items) == 1
    items.close()
    with pytest.raises(ConnectionError):
        list(instrument(stream, recorder.begin, None)())

    assert [c["status"] for c in recorder.calls] == ["ok", "error"]
    assert recorder.calls[1]["error_type"] == "ConnectionError"


def test_a_decorated_async_generator_is_measured_to_exhaustion() -> None:
    recorder = Recorder()

    async def stream() -> AsyncIterator[str]:
        await asyncio.sleep(0.01)
        yield "a"
        yield "b"

    async def main() -> list[str]:
        return [item async for item in instrument(stream, recorder.begin, None)()]

    assert asyncio.run(main()) == ["a", "b"]
    [sent] = recorder.calls
    assert sent["status"] == "ok"
    assert sent["time_to_first_token_ms"] >= 10


def test_a_cancelled_coroutine_is_recorded_as_an_error_and_stays_cancelled() -> None:
    recorder = Recorder()

    async def slow() -> None:
        await asyncio.sleep(10)

    async def main() -> None:
        task = asyncio.create_task(instrument(slow, recorder.begin, None)())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert recorder.calls[0]["error_type"] == "CancelledError"


def test_the_log_says_each_kind_of_problem_at_most_once_a_minute_and_hides_the_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = RateLimitedLog("fl_secret")
    with caplog.at_level(logging.WARNING, logger="fireline.sdk"):
        for _ in range(10):
            log.warning("down", "fireline: refused token %s", "fl_secret")
        log.warning("other", "fireline: something else")

    assert [r.getMessage() for r in caplog.records] == [
        "fireline: refused token ***",
        "fireline: something else",
    ]
