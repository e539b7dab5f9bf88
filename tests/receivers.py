"""Real notification receivers on loopback: an HTTP server that checks and records what Slack,
PagerDuty and webhook receivers get, and an SMTP server (aiosmtpd) that records mail."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import uvicorn
from aiosmtpd.controller import Controller
from fastapi import FastAPI, Request, Response

from tests.servers import free_port

PD_ACTIONS = {"trigger", "acknowledge", "resolve"}
PD_SEVERITIES = {"critical", "error", "warning", "info"}
BLOCK_TYPES = {"header", "section", "context", "divider", "actions", "image"}


def slack_problems(body: Any) -> list[str]:
    """What an incoming webhook body breaks of Slack's documented format (text and blocks)."""
    if not isinstance(body, dict):
        return ["not a JSON object"]
    problems = []
    if not isinstance(body.get("text"), str) or not body["text"]:
        problems.append("text: a non-empty string is the notification fallback")
    for index, block in enumerate(body.get("blocks", [])):
        if block.get("type") not in BLOCK_TYPES:
            problems.append(f"blocks[{index}]: unknown type {block.get('type')!r}")
        text = block.get("text")
        if block.get("type") == "header" and (
            text.get("type") != "plain_text" or len(text.get("text", "")) > 150
        ):
            problems.append(f"blocks[{index}]: a header is plain_text of at most 150 chars")
        if block.get("type") == "section" and len(text.get("text", "")) > 3000:
            problems.append(f"blocks[{index}]: a section's text is at most 3000 chars")
    return problems


def pagerduty_problems(body: Any) -> list[str]:
    """What an event breaks of the Events API v2 format (required fields and enums)."""
    if not isinstance(body, dict):
        return ["not a JSON object"]
    problems = []
    if not isinstance(body.get("routing_key"), str) or len(body["routing_key"]) != 32:
        problems.append("routing_key: the 32-character integration key")
    if body.get("event_action") not in PD_ACTIONS:
        problems.append(f"event_action: one of {sorted(PD_ACTIONS)}")
    key = body.get("dedup_key")
    if body.get("event_action") != "trigger" and not key:
        problems.append("dedup_key: required to acknowledge or resolve")
    if key is not None and (not isinstance(key, str) or len(key) > 255):
        problems.append("dedup_key: a string of at most 255 characters")
    if body.get("event_action") == "trigger":
        payload = body.get("payload") or {}
        for name in ("summary", "source", "severity"):
            if not payload.get(name):
                problems.append(f"payload.{name}: required")
        if len(payload.get("summary", "")) > 1024:
            problems.append("payload.summary: at most 1024 characters")
        if payload.get("severity") not in PD_SEVERITIES:
            problems.append(f"payload.severity: one of {sorted(PD_SEVERITIES)}")
    return problems


def verify_standard_webhook(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The receiver's own check of the signature (written from the scheme, not our code)."""
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest())
    fresh = abs(time.time() - int(headers["webhook-timestamp"])) <= 300
    offered = [part.removeprefix("v1,") for part in headers["webhook-signature"].split()]
    return fresh and any(hmac.compare_digest(expected.decode(), sig) for sig in offered)


@dataclass
class Received:
    """One request as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    """Answers like Slack (/slack/...), PagerDuty (/pagerduty/...) or a signed webhook
    (/hooks/...), checking each body; `fail_with` makes it answer that status instead."""

    webhook_secret: str = "example-secret"
    fail_with: int | None = None
    requests: list[Received] = field(default_factory=list)

    def app(self) -> FastAPI:
        api = FastAPI()

        @api.post("/{path:path}")
        async def receive(path: str, request: Request) -> Response:
            body = await request.body()
            headers = {k.lower(): v for k, v in request.headers.items()}
            self.requests.append(Received("/" + path, headers, body))
            if self.fail_with is not None:
                return Response("try later", status_code=self.fail_with)
            return self._answer("/" + path, headers, body)

        return api

    def _answer(self, path: str, headers: dict[str, str], body: bytes) -> Response:
        data = json.loads(body)
        if path.startswith("/slack/"):
            ok = not slack_problems(data)
            return Response("ok" if ok else "invalid_payload", 200 if ok else 400)
        if path.startswith("/pagerduty/"):
            problems = pagerduty_problems(data)
            if problems:
                answer = {"status": "invalid event", "message": "Event object is invalid"}
                return Response(json.dumps({**answer, "errors": problems}), 400)
            answer = {"status": "success", "message": "Event processed", "dedup_key": ""}
            answer["dedup_key"] = data.get("dedup_key", "")
            return Response(json.dumps(answer), 202, media_type="application/json")
        if not verify_standard_webhook(self.webhook_secret, headers, body):
            return Response("bad signature", 401)
        return Response("{}", 200, media_type="application/json")

    def on(self, prefix: str) -> list[Received]:
        return [r for r in self.requests if r.path.startswith(prefix)]


@contextmanager
def serving_on(api: FastAPI, port: int) -> Iterator[str]:
    """Serve `api` on a chosen loopback port (one a test found closed, to bring it up)."""
    server = uvicorn.Server(uvicorn.Config(api, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    message: EmailMessage


class SmtpRecorder:
    """An aiosmtpd handler that keeps every mail; `reply` makes it refuse with that line."""

    def __init__(self) -> None:
        self.mails: list[Mail] = []
        self.reply: str | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.reply is not None:
            return self.reply
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 OK"


@contextmanager
def smtp_server(port: int | None = None) -> Iterator[tuple[SmtpRecorder, int]]:
    """An SMTP server on loopback; yields its recorder and port."""
    recorder = SmtpRecorder()
    chosen = port or free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=chosen)
    controller.start()
    try:
        yield recorder, chosen
    finally:
        controller.stop()
