"""Who may do what through the API: roles and the permissions each one grants."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class Permission(StrEnum):
    """One kind of API action."""

    INGEST = "ingest"
    READ_GUARDS = "read_guards"
    READ_INCIDENTS = "read_incidents"
    RESPOND = "respond"
    #: Decisions an incident commander takes: severity, roles, containment needing a person.
    COMMAND = "command"
    ADMIN = "admin"


class Role(StrEnum):
    """What a token is for.

    `app` is what an AI app holds: it sends telemetry and reads its guards, nothing more.
    """

    APP = "app"
    VIEWER = "viewer"
    RESPONDER = "responder"
    COMMANDER = "commander"
    ADMIN = "admin"

    def allows(self, permission: Permission) -> bool:
        """Whether a token with this role may perform `permission`.

        >>> Role.APP.allows(Permission.READ_GUARDS), Role.APP.allows(Permission.READ_INCIDENTS)
        (True, False)
        """
        return permission in ROLE_PERMISSIONS[self]


_P = Permission
ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.APP: frozenset({_P.INGEST, _P.READ_GUARDS}),
    Role.VIEWER: frozenset({_P.READ_GUARDS, _P.READ_INCIDENTS}),
    Role.RESPONDER: frozenset({_P.READ_GUARDS, _P.READ_INCIDENTS, _P.RESPOND}),
    Role.COMMANDER: frozenset({_P.READ_GUARDS, _P.READ_INCIDENTS, _P.RESPOND, _P.COMMAND}),
    Role.ADMIN: frozenset(Permission),
}
