"""The FastAPI application and the background detection ticker of `fireline serve`."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import StringConstraints

import fireline
from fireline.api.schemas import (
    AlertOut,
    ErrorOut,
    GuardOut,
    IncidentDetailOut,
    IncidentOut,
    IngestOut,
    ResolveIn,
    TimelineOut,
)
from fireline.domain.access import Permission
from fireline.errors import (
    FirelineError,
    IllegalTransition,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    Problem,
    StoreUnavailable,
)
from fireline.runtime import Fireline
from fireline.tokens import authenticate

log = logging.getLogger("fireline.api")

#: Largest request body accepted on ingest routes.
MAX_BODY_BYTES = 10 * 1024 * 1024

FeaturePath = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class Ticker:
    """Runs detection every `interval` seconds of wall time in a background thread."""

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
        while not self._stop.wait(self._interval):
            try:
                self._app.tick()
            except Exception:  # one failed tick must not stop detection for good
                log.exception("detection tick failed; retrying at the next tick")


def create_app(
    app: Fireline, *, tick_interval: float | None = None, require_tokens: bool = True
) -> FastAPI:
    """The API over one deployment; with `tick_interval`, detection runs in the background.

    Every route but /healthz needs `Authorization: Bearer <token>` whose role grants the
    route's permission, unless `require_tokens` is False (local use only).
    """

    def require(permission: Permission) -> Any:
        def check(authorization: Annotated[str | None, Header()] = None) -> None:
            if not require_tokens:
                return
            scheme, _, token = (authorization or "").partition(" ")
            if scheme.lower() != "bearer" or not token:
                raise HTTPException(
                    401,
                    "missing API token: send 'Authorization: Bearer <token>'",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            found = authenticate(app.state, token.strip())
            if found is None:
                raise HTTPException(
                    401, "unknown or revoked API token", headers={"WWW-Authenticate": "Bearer"}
                )
            if not found.role.allows(permission):
                raise HTTPException(403, f"a token with role '{found.role}' may not {permission}")

        return Depends(check)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        ticker = Ticker(app, tick_interval) if tick_interval else None
        if ticker:
            ticker.start()
        try:
            yield
        finally:
            if ticker:
                ticker.stop()

    api = FastAPI(
        title="fireline",
        version=fireline.__version__,
        description="Incident response for production AI features.",
        lifespan=lifespan,
    )

    @api.exception_handler(FirelineError)
    async def _fireline_error(_: Request, error: FirelineError) -> JSONResponse:
        problems: list[Problem] = error.problems if isinstance(error, InvalidInput) else []
        body = ErrorOut(
            detail=str(error),
            problems=[{"row": p.row, "field": p.field, "message": p.message} for p in problems],
        )
        return JSONResponse(body.model_dump(), status_code=_status(error))

    @api.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": fireline.__version__}

    @api.post(
        "/v1/calls",
        dependencies=[require(Permission.INGEST)],
        response_model=IngestOut,
        responses={413: {"model": ErrorOut}, 422: {"model": ErrorOut}},
    )
    async def ingest_calls(request: Request) -> IngestOut:
        """Store a batch of calls: `{"calls": [...]}`. All or nothing; resending is harmless."""
        payload = await _read_json(request)
        rows = payload.get("calls") if isinstance(payload, dict) else None
        if not isinstance(rows, list):
            raise InvalidInput(
                [Problem(None, "calls", "body must be a JSON object with a 'calls' array")]
            )
        result = await run_in_threadpool(
            app.ingest.ingest_rows, enumerate(rows, start=1), source="calls"
        )
        return IngestOut(accepted=result.accepted, duplicates=result.duplicates, late=result.late)

    @api.get(
        "/api/incidents",
        response_model=list[IncidentOut],
        dependencies=[require(Permission.READ_INCIDENTS)],
    )
    def list_incidents(state: Literal["open", "all"] = "all") -> list[IncidentOut]:
        return [IncidentOut.of(i) for i in app.list_incidents(open_only=state == "open")]

    @api.get(
        "/api/incidents/{incident_id}",
        response_model=IncidentDetailOut,
        dependencies=[require(Permission.READ_INCIDENTS)],
    )
    def get_incident(incident_id: int) -> IncidentDetailOut:
        with app.state.unit_of_work() as tx:
            incident = tx.get_incident(incident_id)
            alerts = tx.alerts(incident_id=incident_id)
            entries = tx.timeline(incident_id)
        return IncidentDetailOut(
            **IncidentOut.of(incident).model_dump(),
            alerts=[AlertOut.of(a) for a in alerts],
            timeline=[TimelineOut.of(e) for e in entries],
        )

    @api.post(
        "/api/incidents/{incident_id}/resolve",
        response_model=IncidentOut,
        dependencies=[require(Permission.RESPOND)],
    )
    def resolve_incident(incident_id: int, body: ResolveIn) -> IncidentOut:
        return IncidentOut.of(app.resolve(incident_id, actor=body.actor, reason=body.reason))

    @api.get(
        "/api/guards", response_model=list[GuardOut], dependencies=[require(Permission.READ_GUARDS)]
    )
    def list_guards(active: Annotated[bool, Query()] = False) -> list[GuardOut]:
        with app.state.unit_of_work() as tx:
            return [GuardOut.of(g) for g in tx.list_guards(active_only=active)]

    @api.get(
        "/api/guards/{feature}",
        response_model=GuardOut,
        dependencies=[require(Permission.READ_GUARDS)],
    )
    def get_guard(feature: FeaturePath) -> GuardOut:
        """The guard an app reads before serving `feature`; level 0 when nothing is contained."""
        return GuardOut.of(app.guard(feature))

    return api


async def _read_json(request: Request) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large()
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_BODY_BYTES:
            raise _too_large()
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidInput([Problem(None, None, f"body is not valid JSON ({error})")]) from None


def _too_large() -> PayloadTooLarge:
    return PayloadTooLarge(
        [Problem(None, None, f"request body larger than {MAX_BODY_BYTES} bytes; split the batch")]
    )


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
