"""Incident response: opening, triaging, containing and resolving incidents."""

from fireline.respond.service import IncidentService

__all__ = ["IncidentService"]
