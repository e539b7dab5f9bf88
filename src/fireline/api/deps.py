"""Dependencies every route shares: the deployment, and the token check for a permission."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from fireline.domain.access import Permission
from fireline.runtime import Fireline
from fireline.store.state import ApiToken
from fireline.tokens import TokenCache, authenticate


async def get_fireline(request: Request) -> Fireline:
    """The deployment this API serves (set by `create_app`); async, as it has nothing to
    wait for: FastAPI would run a plain function in a worker thread, for every request."""
    instance: Fireline = request.app.state.fireline
    return instance


FirelineDep = Annotated[Fireline, Depends(get_fireline)]

log = logging.getLogger("fireline.api.access")


#: Who acts when the API serves without tokens (`fireline serve --no-auth`, loopback only).
LOCAL_CALLER = "local"


def require(permission: Permission, *, remembered: bool = False) -> Any:
    """A dependency that lets a request through only with a token granting `permission`.

    Its value is the caller's name for the timeline: `token:<name>`. With `remembered` (the
    telemetry routes, which exporters call many times a second), a token found active is
    taken to be so for a while, by the app's `ingest_tokens` cache if it has one (see
    `create_app`): a revoked token may still send telemetry for `TOKEN_CACHE_SECONDS`.
    Other routes see a revocation at once.
    """

    async def check(
        request: Request,
        instance: FirelineDep,
        authorization: Annotated[str | None, Header()] = None,
    ) -> str:
        if not request.app.state.require_tokens:
            return LOCAL_CALLER
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HTTPException(
                401,
                "missing API token: send 'Authorization: Bearer <token>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        found = await _authenticated(request, instance, token.strip(), remembered=remembered)
        if found is None:
            raise HTTPException(
                401, "unknown or revoked API token", headers={"WWW-Authenticate": "Bearer"}
            )
        if not found.role.allows(permission):
            # On the record: who tried what. Nothing was changed.
            log.warning(
                "denied: token %s (role %s) may not %s: %s %s",
                found.name,
                found.role,
                permission,
                request.method,
                request.url.path,
            )
            raise HTTPException(403, f"a token with role '{found.role}' may not {permission}")
        return f"token:{found.name}"

    return Depends(check)


async def _authenticated(
    request: Request, instance: Fireline, token: str, *, remembered: bool
) -> ApiToken | None:
    """The active token, remembered or looked up (off the event loop: it waits for a store)."""
    cache: TokenCache | None = getattr(request.app.state, "ingest_tokens", None)
    if cache is None or not remembered:
        return await run_in_threadpool(lambda: authenticate(instance.state, token))
    found = cache.remembered(token)  # no thread, no store: what most requests need
    if found is not None:
        return found
    return await run_in_threadpool(lambda: cache.authenticate(instance.state, token))
