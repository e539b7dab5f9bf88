"""Slack incoming webhooks: a JSON body with a plain `text` fallback and Block Kit `blocks`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from fireline.notify.base import Receivers, post_json, secret_from
from fireline.notify.config import SlackChannel
from fireline.notify.message import Message

#: Slack's limits: a header block's text, and a section's text.
HEADER_LIMIT = 150
SECTION_LIMIT = 3000
_MARKS = {"P0": ":red_circle:", "P1": ":large_orange_circle:", "P2": ":large_yellow_circle:"}


def escape(text: str) -> str:
    """Slack reads `&`, `<` and `>` as markup (`<!channel>` pings everyone): escape them.

    >>> escape("<!channel> & co")
    '&lt;!channel&gt; &amp; co'
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class SlackNotifier:
    """Posts to one Slack incoming webhook; success is HTTP 200 with the body `ok`."""

    kind: ClassVar[str] = "slack"

    def __init__(self, channel: str, url: str, *, timeout_s: float = 10) -> None:
        self.channel = channel
        self._url = url  # the URL is the credential: never logged, never in repr
        self.timeout_s = timeout_s

    @classmethod
    def from_settings(
        cls, channel: str, settings: SlackChannel, env: Mapping[str, str]
    ) -> SlackNotifier:
        url = settings.url
        if settings.url_env is not None:
            url = secret_from(env, settings.url_env, channel=channel, what="Slack URL")
        assert url is not None  # the settings hold exactly one of url and url_env
        return cls(channel, url, timeout_s=settings.timeout_s)

    @classmethod
    def example(cls, receivers: Receivers) -> SlackNotifier:
        return cls("slack-example", f"{receivers.http_url}/slack/services/T0/B0/secret")

    def __repr__(self) -> str:
        return f"SlackNotifier(channel={self.channel!r})"

    def payload(self, message: Message) -> dict[str, Any]:
        """The request body: `text` is what notifications and old clients show."""
        mark = _MARKS.get(message.severity.value if message.severity else "", "")
        title = message.title
        blocks: list[dict[str, Any]] = [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": _cut(title, HEADER_LIMIT), "emoji": True},
            }
        ]
        if message.body:
            blocks.append(
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": _cut(escape(message.body), SECTION_LIMIT)},
                }
            )
        if message.links:
            links = " · ".join(f"<{link.href}|{escape(link.text)}>" for link in message.links)
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": links}})
        context = [f"{mark} {message.event.value}".strip()]
        if message.incident_id is not None:
            context.append(f"incident #{message.incident_id}")
        if message.feature:
            context.append(f"feature `{escape(message.feature)}`")
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]}
        )
        return {"text": escape(_cut(title, SECTION_LIMIT)), "blocks": blocks}

    def send(self, message: Message) -> None:
        post_json(self._url, self.payload(message), service="slack", timeout_s=self.timeout_s)
