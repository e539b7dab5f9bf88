"""`fireline review`: the human review queue of containment level 2."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Annotated, TextIO

import typer
from rich.table import Table
from rich.text import Text

from fireline.cli._app import app, console, open_fireline, print_json
from fireline.review.queue import Decision, Label, Review, ReviewStatus
from fireline.review.service import review_service

review_app = typer.Typer(help="The human review queue: held outputs, approve, edit, reject.")
app.add_typer(review_app, name="review")

_ReviewId = Annotated[int, typer.Argument(help="Review id", min=1, max=2**31 - 1)]
_Actor = Annotated[str | None, typer.Option(help="Who decides [default: cli:$USER]")]
_Note = Annotated[str | None, typer.Option(help="Why (kept with the decision and the label)")]
_STATUSES = ", ".join([*(s.value for s in ReviewStatus), "all"])


def _who(actor: str | None) -> str:
    return actor or f"cli:{getpass.getuser()}"


def _status(value: str) -> ReviewStatus | None:
    if value == "all":
        return None
    try:
        return ReviewStatus(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not one of {_STATUSES}") from None


def _age(created_at: datetime, now: datetime) -> str:
    seconds = max(0, int((now - created_at).total_seconds()))
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _short(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _as_json(review: Review) -> dict[str, object]:
    return {
        "id": review.review_id,
        "feature": review.feature,
        "status": review.status.value,
        "incident_id": review.incident_id,
        "call_id": review.call_id,
        "client_id": review.client_id,
        "input": review.input_text,
        "output": review.output_text,
        "context": dict(review.context),
        "final_output": review.final_output,
        "decided_by": review.decided_by,
        "decided_at": review.decided_at and review.decided_at.isoformat(),
        "note": review.note,
        "created_at": review.created_at.isoformat(),
        "expires_at": review.expires_at.isoformat(),
    }


@review_app.command("list")
def list_reviews(
    status: Annotated[str, typer.Option(help=f"One of {_STATUSES}")] = "pending",
    feature: Annotated[str | None, typer.Option(help="Only this feature")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1_000)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List reviews (pending by default: the queue, oldest first)."""
    chosen = _status(status)
    with open_fireline() as instance:
        found = review_service(instance).reviews(status=chosen, feature=feature, limit=limit)
        now = instance.clock.now()
    if as_json:
        print_json([_as_json(review) for review in found])
        return
    if not found:
        console.print(f"no {status} reviews" if chosen else "no reviews")
        return
    table = Table("id", "feature", "status", "age", "incident", "input", "output")
    # One line a review: the texts share what the other columns leave of the terminal.
    width = max(12, min(60, (console.width - 56) // 2))
    for review in found:
        # Held text is the app's, not rich markup: Text cells print it as it is.
        table.add_row(
            str(review.review_id),
            Text(review.feature),
            review.status.value,
            _age(review.created_at, now),
            str(review.incident_id or "-"),
            Text(_short(review.input_text, width)),
            Text(_short(review.output_text, width)),
        )
    console.print(table)


@review_app.command("show")
def show(
    review_id: _ReviewId,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Show one review: its input, output, full context and decision."""
    with open_fireline() as instance:
        review = review_service(instance).get(review_id)
    if as_json:
        print_json(_as_json(review))
        return
    lines = [
        f"review {review.review_id} · {review.feature} · {review.status.value}",
        f"created {review.created_at:%Y-%m-%d %H:%M:%S} UTC, "
        f"expires {review.expires_at:%Y-%m-%d %H:%M:%S} UTC",
        f"incident: {review.incident_id or '-'}   call: {review.call_id or '-'}",
        "",
        "input:",
        review.input_text,
        "",
        "output:",
        review.output_text,
        "",
        "context:",
        json.dumps(dict(review.context), indent=2, ensure_ascii=False, default=str),
    ]
    if review.decided_by:
        assert review.decided_at is not None
        lines += ["", f"{review.status.value} by {review.decided_by} at {review.decided_at}"]
        if review.status is ReviewStatus.EDITED:
            lines += ["delivered instead:", review.final_output or ""]
        if review.note:
            lines += [f"note: {review.note}"]
    console.print("\n".join(lines), markup=False, highlight=False)


def _decide(
    review_id: int,
    decision: Decision,
    actor: str | None,
    *,
    output: str | None = None,
    note: str | None = None,
) -> None:
    with open_fireline() as instance:
        decided = review_service(instance).decide(
            review_id, decision, by=_who(actor), output=output, note=note
        )
    console.print(f"review {decided.review_id} {decided.status.value}", markup=False)


@review_app.command("approve")
def approve(review_id: _ReviewId, note: _Note = None, actor: _Actor = None) -> None:
    """Approve a held output as it is: the app delivers it."""
    _decide(review_id, ReviewStatus.APPROVED, actor, note=note)


@review_app.command("edit")
def edit(
    review_id: _ReviewId,
    output: Annotated[str, typer.Option(help="The corrected output to deliver instead")],
    note: _Note = None,
    actor: _Actor = None,
) -> None:
    """Approve a corrected output instead of the model's."""
    _decide(review_id, ReviewStatus.EDITED, actor, output=output, note=note)


@review_app.command("reject")
def reject(
    review_id: _ReviewId,
    note: Annotated[str, typer.Option(help="Why the output must not be delivered")],
    actor: _Actor = None,
) -> None:
    """Reject a held output: the app delivers its fallback."""
    _decide(review_id, ReviewStatus.REJECTED, actor, note=note)


@review_app.command("labels")
def labels(
    out: Annotated[Path | None, typer.Option(help="Write to this file [default: stdout]")] = None,
    feature: Annotated[str | None, typer.Option(help="Only this feature")] = None,
) -> None:
    """Export decided reviews as JSONL labels: good, corrected or bad."""
    with open_fireline() as instance:
        found = review_service(instance).labels(feature=feature)
        if out is None:
            _write_labels(found, sys.stdout)
            return
        with out.open("w", encoding="utf-8") as file:
            count = _write_labels(found, file)
    console.print(f"{count} labels written to {out}", markup=False)


def _write_labels(found: Iterable[Label], file: TextIO) -> int:
    count = 0
    for label in found:
        file.write(json.dumps(label.to_json(), ensure_ascii=False) + "\n")
        count += 1
    return count
