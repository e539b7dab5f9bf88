"""The people of an incident: who holds each response role, and since when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class ResponseRole(StrEnum):
    """The roles of an incident response; one person holds each at a time."""

    COMMANDER = "commander"
    TECHNICAL_LEAD = "technical_lead"
    COMMUNICATIONS_LEAD = "communications_lead"
    SAFETY_LEAD = "safety_lead"  # safety and governance
    PRODUCT_OWNER = "product_owner"
    DOMAIN_SPECIALIST = "domain_specialist"


@dataclass(frozen=True, slots=True)
class RoleAssignment:
    """One person holding one role of an incident from `assigned_at` (until `ended_at`)."""

    incident_id: int
    role: ResponseRole
    person: str
    assigned_at: datetime
    assigned_by: str
    ended_at: datetime | None = None
