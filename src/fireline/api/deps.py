"""Dependencies every route shares: the deployment, and the token check for a permission."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Request

from fireline.domain.access import Permission
from fireline.runtime import Fireline
from fireline.tokens import authenticate


def get_fireline(request: Request) -> Fireline:
    """The deployment this API serves (set by `create_app`)."""
    instance: Fireline = request.app.state.fireline
    return instance


FirelineDep = Annotated[Fireline, Depends(get_fireline)]


#: Who acts when the API serves without tokens (`fireline serve --no-auth`, loopback only).
LOCAL_CALLER = "local"


def require(permission: Permission) -> Any:
    """A dependency that lets a request through only with a token granting `permission`.

    Its value is the caller's name for the timeline: `token:<name>`.
    """

    def check(
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
        found = authenticate(instance.state, token.strip())
        if found is None:
            raise HTTPException(
                401, "unknown or revoked API token", headers={"WWW-Authenticate": "Bearer"}
            )
        if not found.role.allows(permission):
            raise HTTPException(403, f"a token with role '{found.role}' may not {permission}")
        return f"token:{found.name}"

    return Depends(check)
