"""The status page and regulatory clocks."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
