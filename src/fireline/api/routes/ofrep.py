"""OFREP: guards served as OpenFeature flags (single and bulk evaluation, ETag on bulk).

Every feature has three flags: `<feature>.enabled` (boolean), `<feature>.level` (integer
0-5) and `<feature>.mode` (string). A guard at level 5 (full shutdown) shuts down every
feature. See docs/ofrep.md for the guide.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from fireline.api.deps import require
from fireline.domain.access import Permission
from fireline.domain.guard import ContainmentLevel, Guard
from fireline.runtime import Fireline

router = APIRouter(prefix="/ofrep/v1", tags=["ofrep"])

log = logging.getLogger("fireline.api.ofrep")

#: Seconds a snapshot of the guards is served before the store is read again: about the
#: longest a guard change takes to reach OFREP clients (a store read per evaluation would
#: cost more than the evaluation itself, and guard writes can come from other processes).
GUARD_TTL_S = 1.0
#: Largest request body read; a context is a handful of attributes.
MAX_BODY_BYTES = 64 * 1024
#: Longest targetingKey accepted.
MAX_TARGETING_KEY = 1024

FLAGS = ("enabled", "level", "mode")
MODES = ("normal", "warn", "review", "fallback", "disabled", "shutdown")
_FEATURE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}")
_JSON = "application/json"
# The token check of every route, called by hand: FastAPI's dependency solving cost more than
# the whole evaluation. A token found active is remembered for the app's token cache time
# (2 s), as on the telemetry routes: a revoked token can read guards that long.
_CHECK = require(Permission.READ_GUARDS, remembered=True).dependency


class OfrepError(Exception):
    """An evaluation that fails with an OFREP error code."""

    def __init__(self, status: int, code: str, details: str) -> None:
        super().__init__(details)
        self.status, self.code, self.details = status, code, details


# ---------------------------------------------------------------- the guards, cached


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every guard at one moment, the level-5 guard if any, and a version for ETags."""

    guards: Mapping[str, Guard]
    shutdown: Guard | None
    version: str
    taken: float

    @classmethod
    def of(cls, guards: Iterable[Guard], taken: float) -> Snapshot:
        by_feature = {g.feature: g for g in guards}
        shutdowns = [g for g in by_feature.values() if g.level == ContainmentLevel.FULL_SHUTDOWN]
        # Several shutdowns: the one allowing the fewest probes decides.
        shutdown = min(shutdowns, key=lambda g: (g.probe_share, g.feature), default=None)
        digest = hashlib.sha256()
        for g in sorted(by_feature.values(), key=lambda g: g.feature):
            stamp = g.updated_at.isoformat() if g.updated_at else ""
            row = (
                g.feature,
                int(g.level),
                g.probe_share,
                g.reason,
                g.incident_id,
                stamp,
                g.throttle,
                sorted(g.segment.items()),
                g.restore_share,
                g.restore_salt,
            )
            digest.update(json.dumps(row).encode())
        return cls(by_feature, shutdown, digest.hexdigest()[:32], taken)


class GuardSnapshots:
    """The guards, read from the state store at most every `ttl` seconds per app.

    A snapshot older than `ttl` is still served while a background read replaces it, as long
    as it is younger than twice `ttl`; older (after an idle spell), requests wait for one
    shared read. So a guard change is served within about `ttl`, and under load no request
    waits for the store. When the store cannot be read, the last snapshot stays in force
    (fail static) for another `ttl`.
    """

    def __init__(self, ttl: float = GUARD_TTL_S) -> None:
        self._ttl = ttl
        self._snapshot: Snapshot | None = None
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._background: asyncio.Task[Snapshot] | None = None

    async def get(self, instance: Fireline) -> Snapshot:
        snapshot = self._snapshot
        if snapshot is not None:
            age = time.monotonic() - snapshot.taken
            if age < self._ttl:
                return snapshot
            if age < 2 * self._ttl:
                self._refresh_soon(instance)
                return snapshot
        return await self._refresh(instance)

    def _refresh_soon(self, instance: Fireline) -> None:
        if self._background is None or self._background.done():
            self._background = asyncio.create_task(self._refresh(instance))

    async def _refresh(self, instance: Fireline) -> Snapshot:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._loop is not loop:  # a lock belongs to one event loop
            self._lock, self._loop = asyncio.Lock(), loop
        async with self._lock:
            snapshot = self._snapshot
            if snapshot is not None and time.monotonic() - snapshot.taken < self._ttl:
                return snapshot  # read by the request we waited for
            try:
                snapshot = await run_in_threadpool(_read_guards, instance)
            except Exception:  # any store failure: fail static
                if self._snapshot is None:
                    raise
                log.warning("guards not read; serving the last snapshot", exc_info=True)
                snapshot = dataclasses.replace(self._snapshot, taken=time.monotonic())
            self._snapshot = snapshot
            return snapshot


def _read_guards(instance: Fireline) -> Snapshot:
    return Snapshot.of(instance.guards(), time.monotonic())


def snapshots(request: Request) -> GuardSnapshots:
    """The app's guard cache, made on first use (`create_app` knows nothing of OFREP)."""
    state = request.app.state
    cache: GuardSnapshots | None = getattr(state, "ofrep_guards", None)
    if cache is None:
        cache = state.ofrep_guards = GuardSnapshots()
    return cache


# ---------------------------------------------------------------- evaluation (pure)


def effective(
    snapshot: Snapshot,
    feature: str,
    context: Mapping[str, Any] | None = None,
    targeting_key: str | None = None,
) -> tuple[int, float, Guard]:
    """The level and probe share in force for `feature` (for this context: outside the
    guard's segment, or restored by a staged restoration, a request gets normal service), and
    the guard that set them."""
    own = snapshot.guards.get(feature) or Guard.normal(feature)
    shutdown = snapshot.shutdown
    if shutdown is None or own.level == ContainmentLevel.FULL_SHUTDOWN:
        if own.segment or own.restoration:
            return int(own.level_for(context or {}, targeting_key)), own.probe_share, own
        return int(own.level), own.probe_share, own
    probe = shutdown.probe_share
    if own.level >= ContainmentLevel.FEATURE_DISABLED:
        probe = min(probe, own.probe_share)  # the stricter of two kill switches
    return int(ContainmentLevel.FULL_SHUTDOWN), probe, shutdown


def in_probe(feature: str, targeting_key: str, share: float) -> bool:
    """Whether `targeting_key` is in `feature`'s probe share: the same answer every time."""
    digest = hashlib.sha256(f"{feature}\x00{targeting_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def evaluate(
    snapshot: Snapshot,
    key: str,
    targeting_key: str | None,
    context: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One flag's OFREP evaluation success body; OfrepError(404) for an unknown flag."""
    feature, _, flag = key.rpartition(".")
    if flag not in FLAGS or _FEATURE.fullmatch(feature) is None:
        raise OfrepError(
            404,
            "FLAG_NOT_FOUND",
            f"flag {key[:200]!r} is not <feature>.enabled, <feature>.level or <feature>.mode",
        )
    level, probe, guard = effective(snapshot, feature, context, targeting_key)
    reason = "STATIC"  # decided by the guard alone
    if level != guard.level and guard.feature == feature:
        reason = "TARGETING_MATCH"  # outside the guard's segment, or already restored
    value: bool | int | str
    if flag == "level":
        value, variant = level, ContainmentLevel(level).slug
    elif flag == "mode":
        value = variant = MODES[level]
    elif level < ContainmentLevel.FEATURE_DISABLED:
        value, variant = True, "on"
    elif probe <= 0:
        value, variant = False, "off"
    elif targeting_key is None:
        # No key cannot be placed in the probe share: fail closed, never the app's default.
        value, variant, reason = False, "off", "DEFAULT"
    else:
        value = in_probe(feature, targeting_key, probe)
        variant, reason = ("probe" if value else "off"), "SPLIT"
    return {
        "key": key,
        "value": value,
        "reason": reason,
        "variant": variant,
        "metadata": _metadata(feature, level, probe, guard),
    }


def _metadata(feature: str, level: int, probe: float, guard: Guard) -> dict[str, Any]:
    found: dict[str, Any] = {"feature": feature, "level": level, "mode": MODES[level]}
    found["probeShare"] = probe
    if guard.feature != feature:
        found["shutdownBy"] = guard.feature
    if guard.reason:
        found["guardReason"] = guard.reason
    if guard.incident_id is not None:
        found["incidentId"] = guard.incident_id
    if guard.updated_at is not None:
        found["updatedAt"] = guard.updated_at.isoformat()
    if guard.throttle < 1.0:
        found["throttle"] = guard.throttle
    if guard.segment:
        found["segment"] = ",".join(f"{k}={v}" for k, v in sorted(guard.segment.items()))
    if guard.restoration:
        found["restoreShare"] = guard.restore_share
    if level == ContainmentLevel.FALLBACK:
        # Metadata values are flat: fallbackModel, fallbackPromptVersion, fallbackPath...
        for part, name in guard.fallback.items():
            found["fallback" + part.title().replace("_", "")] = name
    return found


def evaluate_all(
    snapshot: Snapshot, targeting_key: str | None, context: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Every flag of every feature that has a guard, by feature then flag."""
    return [
        evaluate(snapshot, f"{feature}.{flag}", targeting_key, context)
        for feature in sorted(snapshot.guards)
        for flag in FLAGS
    ]


def etag(snapshot: Snapshot, context: Mapping[str, Any]) -> str:
    """The bulk answer's entity tag: the guards' version and the context."""
    canonical = json.dumps(context, sort_keys=True, separators=(",", ":"))
    return '"' + hashlib.sha256(f"{snapshot.version}|{canonical}".encode()).hexdigest()[:32] + '"'


def matches(if_none_match: str | None, tag: str) -> bool:
    """Whether an If-None-Match header names `tag` (weak comparison, `*` matches all)."""
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        candidate = candidate.strip().removeprefix("W/")
        if candidate in ("*", tag):
            return True
    return False


# ---------------------------------------------------------------- HTTP


async def read_context(request: Request) -> tuple[dict[str, Any], str | None]:
    """The request's evaluation context and targetingKey, or OfrepError(400)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise OfrepError(400, "PARSE_ERROR", f"request body over {MAX_BODY_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise OfrepError(400, "PARSE_ERROR", f"request body over {MAX_BODY_BYTES} bytes")
    if not body.strip():
        return {}, None  # no body: an empty context
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError) as error:  # RecursionError: absurdly deep nesting
        raise OfrepError(400, "PARSE_ERROR", f"request body is not JSON: {error}") from None
    if not isinstance(parsed, dict):
        raise OfrepError(400, "PARSE_ERROR", 'request body must be an object: {"context": {}}')
    context = parsed.get("context")
    if context is None:
        return {}, None
    if not isinstance(context, dict):
        raise OfrepError(400, "INVALID_CONTEXT", "context must be an object")
    key = context.get("targetingKey")
    if key is None or key == "":
        return context, None
    if not isinstance(key, str):
        raise OfrepError(400, "INVALID_CONTEXT", "targetingKey must be a string")
    if len(key) > MAX_TARGETING_KEY:
        raise OfrepError(400, "INVALID_CONTEXT", f"targetingKey over {MAX_TARGETING_KEY} chars")
    return context, key


def _json(body: object, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    content = json.dumps(body, separators=(",", ":")).encode()
    return Response(content, status_code=status, media_type=_JSON, headers=headers)


def _failure(error: OfrepError, key: str | None = None) -> Response:
    body: dict[str, str] = {} if key is None else {"key": key}
    body |= {"errorCode": error.code, "errorDetails": error.details}
    return _json(body, error.status)


async def _snapshot(request: Request) -> Snapshot:
    try:
        return await snapshots(request).get(request.app.state.fireline)
    except Exception:  # no snapshot yet and the store cannot be read; the log says why
        log.warning("guards cannot be read", exc_info=True)
        raise OfrepError(503, "GENERAL", "guards cannot be read now; retry later") from None


async def _authorize(request: Request) -> None:
    """The token check; HTTPException 401/403 (plain FastAPI bodies, as OFREP allows)."""
    await _CHECK(request, request.app.state.fireline, request.headers.get("authorization"))


# Parameters are read from the request, not declared: FastAPI's parsing of them cost as much.
@router.post("/evaluate/flags", response_class=Response)
async def evaluate_flags(request: Request) -> Response:
    """Bulk evaluation: every flag of every guarded feature; 304 when `If-None-Match` matches
    the ETag. Body `{"context": {"targetingKey": ...}}`; needs a token with the app role."""
    await _authorize(request)
    try:
        context, targeting_key = await read_context(request)
        snapshot = await _snapshot(request)
    except OfrepError as error:
        return _failure(error)
    tag = etag(snapshot, context)
    if matches(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers={"ETag": tag})
    return _json({"flags": evaluate_all(snapshot, targeting_key, context)}, headers={"ETag": tag})


@router.post("/evaluate/flags/{key:path}", response_class=Response)
async def evaluate_flag(request: Request) -> Response:
    """Single evaluation of `<feature>.enabled`, `<feature>.level` or `<feature>.mode`.
    Body `{"context": {"targetingKey": ...}}`; needs a token with the app role."""
    await _authorize(request)
    key: str = request.path_params["key"]
    try:
        context, targeting_key = await read_context(request)
        return _json(evaluate(await _snapshot(request), key, targeting_key, context))
    except OfrepError as error:
        return _failure(error, key)
