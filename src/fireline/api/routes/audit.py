"""The audit log: verify that no timeline entry was edited or removed."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from fireline.api.deps import FirelineDep, require
from fireline.domain.access import Permission
from fireline.domain.audit import verify

router = APIRouter(prefix="/api/audit", tags=["audit"])


class VerificationOut(BaseModel):
    ok: bool
    checked: int
    unchained: int
    problems: list[str]


@router.get("/verify", response_model=VerificationOut, dependencies=[require(Permission.ADMIN)])
def verify_audit(instance: FirelineDep) -> VerificationOut:
    """Walk the hash chain of every timeline entry and report any break."""
    with instance.state.unit_of_work(read_only=True) as tx:
        entries, head = tx.audit_chain()
    found = verify(entries, head)
    return VerificationOut(
        ok=found.ok, checked=found.checked, unchained=found.unchained, problems=list(found.problems)
    )
