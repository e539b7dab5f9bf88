"""The small HTML pages a signed acknowledgement link answers with."""

from __future__ import annotations

from html import escape

#: Headers of every answer to a link: the token in the URL must not leak or be cached, and
#: the page needs no script, style or third party.
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "Content-Security-Policy": "default-src 'none'; form-action 'self'",
}


def confirm_page(
    incident_id: int, title: str, person: str | None, acknowledged_by: str | None
) -> str:
    """Asks for a click: link previewers (chat unfurlers, mail scanners) follow GET links,
    and must not acknowledge a page nobody read."""
    heading = f"Incident {incident_id}: {title}"
    if acknowledged_by is not None:
        body = f"<p>Already acknowledged by {escape(acknowledged_by)}. Nothing more to do.</p>"
    else:
        who = f" as {escape(person)}" if person else ""
        body = (
            f"<p>Acknowledge this page{who}? Escalation and repeated pages stop.</p>"
            '<form method="post"><button type="submit">Acknowledge</button></form>'
        )
    return _page(heading, body)


def done_page(incident_id: int, title: str, by: str, already: bool) -> str:
    """Says the page is acknowledged (now, or before by someone)."""
    what = "was already acknowledged by" if already else "is acknowledged by"
    body = f"<p>Paging {what} {escape(by)}. Thank you.</p>"
    return _page(f"Incident {incident_id}: {title}", body)


def refused_page(reason: str) -> str:
    """Says why a link does not work and where to acknowledge instead."""
    return _page("Link not accepted", f"<p>{escape(reason)}</p>")


def _page(heading: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>fireline: {escape(heading)}</title></head>"
        f"<body><h1>{escape(heading)}</h1>{body}</body></html>"
    )
