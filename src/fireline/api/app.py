"""The FastAPI application and the background detection ticker of `fireline serve`."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

import fireline
from fireline.api.routes import (
    alertmanager,
    audit,
    changes,
    evals,
    guards,
    incidents,
    ingest,
    investigation,
    learning,
    notify,
    ofrep,
    oncall,
    otlp,
    playbooks,
    reviews,
    scans,
    status,
)
from fireline.api.routes.ingest import MAX_BODY_BYTES
from fireline.api.schemas import ErrorOut, ProblemOut
from fireline.errors import (
    FirelineError,
    IllegalTransition,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    StoreUnavailable,
)
from fireline.ingest.service import IngestService
from fireline.notify.service import DeliveryWorker
from fireline.runtime import Fireline
from fireline.tokens import TOKEN_CACHE_SECONDS, TokenCache

__all__ = ["MAX_BODY_BYTES", "ScanWorker", "Ticker", "create_app"]

log = logging.getLogger("fireline.api")


class Ticker:
    """Runs detection every `interval` seconds of wall time in a background thread.

    While it runs, ingest reuses the watermark it read for up to `WATERMARK_SECONDS` (see
    `IngestService.remember_watermark`) and is told of every tick, which is what moves it.
    """

    #: How long ingest may reuse the watermark it read, while the ticker tells it of ticks.
    WATERMARK_SECONDS = 1.0

    def __init__(self, app: Fireline, interval: float) -> None:
        self._app = app
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fireline-ticker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        self._tell_ingest(lambda ingest: ingest.remember_watermark(self.WATERMARK_SECONDS))
        try:
            while not self._stop.wait(self._interval):
                try:
                    self._app.tick()
                except Exception:  # one failed tick must not stop detection for good
                    log.exception("detection tick failed; retrying at the next tick")
                self._tell_ingest(lambda ingest: ingest.watermark_moved())
        finally:
            self._tell_ingest(lambda ingest: ingest.remember_watermark(0))

    def _tell_ingest(self, action: Callable[[IngestService], None]) -> None:
        try:
            action(self._app.ingest)
        except Exception:  # the stores cannot be opened: a tick would fail and say why
            log.debug("ingest not told of the watermark", exc_info=True)


class ScanWorker:
    """Scans new calls in a background thread every `interval` seconds ("ingest" mode), so
    hits are there within seconds of ingest without ingest ever waiting for a scanner."""

    def __init__(self, app: Fireline, interval: float) -> None:
        self._app = app
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fireline-scanner", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                # Bounded rounds, so stopping never waits for a long backlog.
                self._app.scans.catch_up(self._app.clock.now(), max_calls=10_000)
            except Exception:  # the next round retries; nothing is marked scanned on failure
                log.exception("scanning failed; retrying at the next round")


def create_app(
    app: Fireline,
    *,
    tick_interval: float | None = None,
    require_tokens: bool = True,
    token_cache_seconds: float = TOKEN_CACHE_SECONDS,
) -> FastAPI:
    """The API over one deployment; with `tick_interval`, detection runs in the background.

    Every route but /healthz needs `Authorization: Bearer <token>` whose role grants the
    route's permission, unless `require_tokens` is False (local use only). Telemetry routes
    remember a token found active for `token_cache_seconds` (0: not at all), the longest
    a revoked token can still send telemetry; other routes check it on every request.
    """

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        ticker = Ticker(app, tick_interval) if tick_interval else None
        scanning = app.config.scanners
        worker = (
            ScanWorker(app, scanning.interval_s)
            if tick_interval and scanning.mode == "ingest"
            else None
        )
        delivery = DeliveryWorker(app.notifications) if tick_interval else None
        for background in (ticker, worker, delivery):
            if background:
                background.start()
        try:
            yield
        finally:
            for background in (delivery, worker, ticker):
                if background:
                    background.stop()

    api = FastAPI(
        title="fireline",
        version=fireline.__version__,
        description="Incident response for production AI features.",
        lifespan=lifespan,
    )
    api.state.fireline = app
    api.state.require_tokens = require_tokens
    api.state.ingest_tokens = TokenCache(token_cache_seconds) if token_cache_seconds > 0 else None
    api.add_exception_handler(FirelineError, _fireline_error)  # type: ignore[arg-type]
    api.state.otlp_keep_non_genai = app.config.ingest.otlp.keep_non_genai
    routers = (
        ofrep,  # first: FastAPI tries routes in order, and guard reads are the hottest
        ingest,
        otlp,
        alertmanager,
        incidents,
        guards,
        changes,
        scans,
        oncall,
        notify,
        status,
        audit,
        reviews,
        investigation,
        learning,
        evals,
        playbooks,
    )
    for module in routers:
        api.include_router(module.router)

    @api.get("/healthz", tags=["meta"])
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": fireline.__version__}

    return api


async def _fireline_error(_: Request, error: FirelineError) -> JSONResponse:
    problems = error.problems if isinstance(error, InvalidInput) else []
    body = ErrorOut(
        detail=str(error),
        problems=[ProblemOut(row=p.row, field=p.field, message=p.message) for p in problems],
    )
    return JSONResponse(body.model_dump(), status_code=_status(error))


def _status(error: FirelineError) -> int:
    if isinstance(error, PayloadTooLarge):
        return 413
    if isinstance(error, InvalidInput):
        return 422
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, IllegalTransition):
        return 409
    if isinstance(error, StoreUnavailable):
        return 503
    return 500
