"""The `observe` decorator: one recorded call per invocation, for plain and async code."""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, ParamSpec, TypeVar, cast

from fireline.sdk._log import sdk_log
from fireline.sdk._record import CallRecord, reset_current, set_current

P = ParamSpec("P")
R = TypeVar("R")
ResultHook = Callable[[CallRecord, Any], object]


def instrument(
    fn: Callable[P, R], begin: Callable[[], CallRecord], on_result: ResultHook | None
) -> Callable[P, R]:
    """Wrap `fn` so that each invocation is measured and recorded as one call.

    Functions and coroutine functions see their record as `current_call()`; `on_result`
    receives the record and the return value. Generators (sync or async) are measured from
    the first `next()` to exhaustion, with the time to their first item.
    """
    if inspect.isasyncgenfunction(fn):
        return cast(Callable[P, R], _async_generator(fn, begin))
    if inspect.isgeneratorfunction(fn):
        return cast(Callable[P, R], _generator(fn, begin))
    if inspect.iscoroutinefunction(fn):
        return cast(Callable[P, R], _coroutine(fn, begin, on_result))
    return _function(fn, begin, on_result)


def _function(
    fn: Callable[P, R], begin: Callable[[], CallRecord], on_result: ResultHook | None
) -> Callable[P, R]:
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        record = _begin(begin)
        if record is None:
            return fn(*args, **kwargs)
        token = set_current(record)
        try:
            result = fn(*args, **kwargs)
        except BaseException as error:
            _finish(record, error)
            raise
        finally:
            reset_current(token)
        _hook(record, on_result, result)
        _finish(record, None)
        return result

    return wrapper


def _coroutine(
    fn: Callable[..., Any], begin: Callable[[], CallRecord], on_result: ResultHook | None
) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        record = _begin(begin)
        if record is None:
            return await fn(*args, **kwargs)
        token = set_current(record)
        try:
            result = await fn(*args, **kwargs)
        except BaseException as error:
            _finish(record, error)
            raise
        finally:
            reset_current(token)
        _hook(record, on_result, result)
        _finish(record, None)
        return result

    return wrapper


def _generator(fn: Callable[..., Any], begin: Callable[[], CallRecord]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Iterator[Any]:
        items = fn(*args, **kwargs)
        record = _begin(begin)
        if record is None:
            yield from items
            return
        error: BaseException | None = None
        try:
            for item in items:
                record.mark_first_token()
                yield item
        except GeneratorExit:  # the consumer stopped early: not a failure
            raise
        except BaseException as raised:
            error = raised
            raise
        finally:
            items.close()
            _finish(record, error)

    return wrapper


def _async_generator(fn: Callable[..., Any], begin: Callable[[], CallRecord]) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        items = fn(*args, **kwargs)
        record = _begin(begin)
        error: BaseException | None = None
        try:
            async for item in items:
                if record is not None:
                    record.mark_first_token()
                yield item
        except GeneratorExit:  # the consumer stopped early: not a failure
            raise
        except BaseException as raised:
            error = raised
            raise
        finally:
            await items.aclose()
            if record is not None:
                _finish(record, error)

    return wrapper


def _begin(begin: Callable[[], CallRecord]) -> CallRecord | None:
    try:
        return begin().start()
    except Exception:  # recording must never stop the app's own code from running
        sdk_log.warning("begin", "fireline: could not start recording a call", exc_info=True)
        return None


def _finish(record: CallRecord, error: BaseException | None) -> None:
    try:
        record.finish(error)
    except Exception:
        sdk_log.warning("finish", "fireline: could not record a call", exc_info=True)


def _hook(record: CallRecord, on_result: ResultHook | None, result: object) -> None:
    if on_result is None:
        return
    try:
        on_result(record, result)
    except Exception:
        sdk_log.warning(
            "on_result", "fireline: an on_result hook failed (%r)", record.feature, exc_info=True
        )
