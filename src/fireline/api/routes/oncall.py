"""On-call: schedules with rotations and overrides, escalation policies, pages until acked."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
