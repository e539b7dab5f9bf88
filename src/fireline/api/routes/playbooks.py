"""Playbooks: the runbooks attached to incidents (work in progress)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["playbooks"])
