"""Commands that bring data in: ingest and changes."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.progress import Progress
from rich.table import Table

from fireline.cli._app import TOKEN_ENV, app, console, errors, open_fireline, print_json
from fireline.errors import FirelineError
from fireline.ingest.jsonl import read_jsonl

#: Most calls, and most bytes of JSON, per request when `fireline ingest --url` uploads a file:
#: below the server's limits (10,000 calls, 10 MiB).
UPLOAD_BATCH = 5_000
UPLOAD_BYTES = 8 * 1024 * 1024


class Kind(StrEnum):
    """What a JSONL file holds."""

    CALLS = "calls"
    FEEDBACK = "feedback"
    CHANGES = "changes"
    DOCUMENTS = "documents"


@app.command()
def ingest(
    file: Annotated[
        Path, typer.Argument(help="JSONL file, one record per line", exists=True, dir_okay=False)
    ],
    kind: Annotated[Kind, typer.Option(help="What the file holds")] = Kind.CALLS,
    url: Annotated[
        str | None, typer.Option(help="Send through a running server at this URL instead")
    ] = None,
    token: Annotated[str | None, typer.Option(help="API token for --url", envvar=TOKEN_ENV)] = None,
) -> None:
    """Import calls, feedback, changes or knowledge-base documents from a JSONL file, all lines validated first."""  # noqa: E501 - one line in --help
    rows = _read_with_progress(file)
    if url is None:
        with open_fireline() as instance:
            store = {
                Kind.CALLS: instance.ingest.ingest_rows,
                Kind.FEEDBACK: instance.ingest.ingest_feedback_rows,
                Kind.CHANGES: instance.ingest.ingest_change_rows,
                Kind.DOCUMENTS: instance.scans.ingest_document_rows,
            }[kind]
            with errors.status(f"storing {len(rows)} {kind.value}"):
                result = store(rows, source=str(file), max_rows=None, row_label="line")
        _report_ingest(file, kind, result.accepted, result.duplicates, result.late)
        return
    from fireline.ingest.records import parse_changes, parse_documents, parse_feedback
    from fireline.ingest.schema import parse_calls

    parse = {
        Kind.CALLS: parse_calls,
        Kind.FEEDBACK: parse_feedback,
        Kind.CHANGES: parse_changes,
        Kind.DOCUMENTS: parse_documents,
    }
    parse[kind](rows, source=str(file), max_rows=None, row_label="line")  # refuse early
    accepted = duplicates = late = 0
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with (
        Progress(console=errors, transient=True) as progress,
        httpx.Client(base_url=url, timeout=60, headers=headers) as client,
    ):
        task = progress.add_task(f"sending {file.name}", total=len(rows))
        for batch in _upload_batches(rows):
            body = {kind.value: [row for _, row in batch]}
            response = client.post(f"/v1/{kind.value}", json=body)
            if response.status_code != 200:
                raise FirelineError(
                    f"server answered {response.status_code} for lines {batch[0][0]}-"
                    f"{batch[-1][0]} of {file} (none of them stored; {accepted} earlier records "
                    f"were): {_detail(response)}"
                )
            answer = response.json()
            accepted += answer["accepted"]
            duplicates += answer["duplicates"]
            late += answer["late"]
            progress.advance(task, len(batch))
    _report_ingest(file, kind, accepted, duplicates, late)


def _read_with_progress(file: Path) -> list[tuple[int, Any]]:
    size = file.stat().st_size
    with Progress(console=errors, transient=True) as progress:
        task = progress.add_task(f"reading {file.name}", total=size)
        return list(read_jsonl(file, on_bytes=lambda n: progress.advance(task, n)))


def _upload_batches(rows: list[tuple[int, Any]]) -> Iterator[list[tuple[int, Any]]]:
    batch: list[tuple[int, Any]] = []
    size = 0
    for number, row in rows:
        row_size = len(json.dumps(row)) + 1
        if batch and (len(batch) >= UPLOAD_BATCH or size + row_size > UPLOAD_BYTES):
            yield batch
            batch, size = [], 0
        batch.append((number, row))
        size += row_size
    if batch:
        yield batch


def _report_ingest(file: Path, kind: Kind, accepted: int, duplicates: int, late: int) -> None:
    console.print(f"{file}: {accepted} {kind.value} stored, {duplicates} already stored")
    if late:
        errors.print(
            f"warning: {late} calls are older than what detection has already evaluated; "
            "they are stored, but no detector will count them (import history before "
            "serving, or replay it with `fireline tick --at` on a fresh data directory)"
        )


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json()["detail"])
    except (ValueError, KeyError, TypeError):
        return response.text[:500]


@app.command()
def changes(
    feature: Annotated[
        str | None, typer.Option(help="Only this feature's and global changes")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="How many, newest first")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List recorded changes (deploys), newest first."""
    with open_fireline() as instance, instance.state.unit_of_work(read_only=True) as tx:
        found = tx.list_changes(feature=feature, limit=limit)
    if as_json:
        print_json([dataclasses.asdict(change) for change in found])
        return
    table = Table("time", "kind", "feature", "version", "previous", "author")
    for c in found:
        table.add_row(
            f"{c.time:%Y-%m-%d %H:%M:%S}",
            c.kind.value,
            c.feature or "(all)",
            c.version,
            c.previous_version or "",
            c.author or "",
        )
    console.print(table)
