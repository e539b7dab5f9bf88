"""The public status page: summary.json rendered as HTML by a sandboxed Jinja2 template.

The page is rendered from the summary document alone, so it can show no more than
summary.json does: published updates, component statuses, never internal details.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import PackageLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

JSON_PATH = "/api/v2/summary.json"


@cache
def _environment() -> SandboxedEnvironment:
    # Sandboxed and autoescaped: update bodies are typed by people and shown to the world.
    return SandboxedEnvironment(
        loader=PackageLoader("fireline.status", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_page(summary: dict[str, Any]) -> str:
    """The HTML status page of a summary.json document."""
    zone = ZoneInfo(summary["page"]["time_zone"])

    def local(stamp: str) -> str:
        return datetime.fromisoformat(stamp).astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")

    template = _environment().get_template("page.html.j2")
    return template.render(
        page=summary["page"],
        status=summary["status"],
        components=summary["components"],
        incidents=summary["incidents"],
        json_url=JSON_PATH,
        local=local,
    )
