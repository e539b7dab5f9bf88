"""Commands about notifications: the outbox, test messages, rendered incident messages."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from fireline.cli._app import app, console, errors, open_fireline, print_json
from fireline.notify.base import DeliveryError
from fireline.notify.outbox import Status
from fireline.notify.service import notify_service

notify_app = typer.Typer(help="Notifications: the outbox, test messages, message templates.")
app.add_typer(notify_app, name="notify")


@notify_app.command("outbox")
def outbox(
    status: Annotated[Status | None, typer.Option(help="Only messages in this state")] = None,
    channel: Annotated[str | None, typer.Option(help="Only this channel")] = None,
    incident: Annotated[int | None, typer.Option(help="Only this incident")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="How many, newest first")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List outbox messages newest first: delivered, pending (with the next try) or dead."""
    with open_fireline() as instance:
        entries = notify_service(instance).outbox.list(
            status=status, channel=channel, incident_id=incident, limit=limit
        )
    if as_json:
        print_json(
            [
                {
                    "id": e.entry_id,
                    "channel": e.channel,
                    "event": e.event,
                    "incident_id": e.incident_id,
                    "title": e.message.title,
                    "status": e.status.value,
                    "attempts": e.attempts,
                    "next_attempt_at": e.next_attempt_at.isoformat(),
                    "last_error": e.last_error,
                    "created_at": e.created_at.isoformat(),
                    "delivered_at": e.delivered_at.isoformat() if e.delivered_at else None,
                }
                for e in entries
            ]
        )
        return
    if not entries:
        console.print("the outbox is empty")
        return
    table = Table(
        "id", "created", "channel", "event", "incident", "status", "tries", "next / error"
    )
    for e in entries:
        note = e.last_error or ""
        if e.status is Status.PENDING:
            note = f"next {e.next_attempt_at:%H:%M:%S} {note}".strip()
        table.add_row(
            str(e.entry_id),
            f"{e.created_at:%Y-%m-%d %H:%M:%S}",
            e.channel,
            e.event,
            "" if e.incident_id is None else str(e.incident_id),
            e.status.value,
            str(e.attempts),
            note,
        )
    console.print(table)


@notify_app.command("test")
def test(
    channel: Annotated[str, typer.Argument(help="A channel of notifications.channels")],
) -> None:
    """Send a test message to CHANNEL now, bypassing the outbox."""
    with open_fireline() as instance:
        try:
            notify_service(instance).send_test(channel)
        except DeliveryError as error:
            later = "a retry may help" if error.retryable else "retrying will not help"
            errors.print(f"not delivered ({later}): {error}", markup=False, highlight=False)
            raise typer.Exit(1) from None
    console.print(f"test message delivered to {channel}")


@notify_app.command("render")
def render(
    incident_id: Annotated[int, typer.Argument(help="The incident")],
    template: Annotated[
        str,
        typer.Option(help="internal, exec_brief, status_update, regulatory_report, or yours"),
    ] = "internal",
) -> None:
    """Print the incident's message from a template, as of now."""
    with open_fireline() as instance:
        rendered = notify_service(instance).render(incident_id, template)
    typer.echo(rendered.text, nl=False)


@notify_app.command("send")
def send(
    incident_id: Annotated[int, typer.Argument(help="The incident")],
    template: Annotated[str, typer.Option(help="The template of the update")] = "status_update",
) -> None:
    """Send the incident's update through the outbox to the channels routed incident.updated."""
    with open_fireline() as instance:
        channels = notify_service(instance).send_update(incident_id, template)
    console.print(
        f"queued for {', '.join(channels)}" if channels else "no channel is routed updates"
    )


@notify_app.command("deliver")
def deliver() -> None:
    """Enqueue due update reminders and deliver what is due once (for cron, or without serve)."""
    with open_fireline() as instance:
        report = notify_service(instance).run_round()
    console.print(
        f"delivered {len(report.delivered)}, retrying {len(report.retrying)}, "
        f"dead {len(report.dead)}"
    )
    if report.dead:
        raise typer.Exit(1)


@notify_app.command("requeue")
def requeue(entry_id: Annotated[int, typer.Argument(help="A dead outbox message")]) -> None:
    """Send a dead message again, with a fresh count of attempts."""
    with open_fireline() as instance:
        service = notify_service(instance)
        if not service.outbox.requeue(entry_id, service.clock.now()):
            errors.print(f"error: no dead outbox message {entry_id}")
            raise typer.Exit(1)
    console.print(f"message {entry_id} is pending again")
