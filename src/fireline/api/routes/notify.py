"""Notifications: channels (Slack, PagerDuty, e-mail, webhooks), outbox, message templates."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
