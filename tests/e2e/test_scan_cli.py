"""`fireline scan` and document import as a user runs them, in a subprocess."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from tests.conftest import T0
from tests.e2e.test_cli import fireline, write_jsonl


def test_documents_and_calls_imported_then_scanned_list_the_leaks_as_hits(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    documents = write_jsonl(
        tmp_path / "docs.jsonl",
        [{"doc_id": "acme-1", "tenant": "acme"}, {"doc_id": "shared-1"}],
    )
    calls = write_jsonl(
        tmp_path / "calls.jsonl",
        [
            {
                "call_id": f"c{i}",
                "time": (T0 + timedelta(seconds=i)).isoformat(),
                "feature": "qa",
                "tenant": "globex",
                "retrieved_doc_ids": ["shared-1", "acme-1"] if i == 3 else ["shared-1"],
                "output_text": "Answer.",
            }
            for i in range(10)
        ],
    )
    assert (
        "2 documents stored"
        in fireline("ingest", str(documents), "--kind", "documents", data_dir=data).stdout
    )
    assert fireline("ingest", str(calls), data_dir=data).returncode == 0

    ran = fireline("scan", "run", "--at", (T0 + timedelta(minutes=5)).isoformat(), data_dir=data)
    listed = fireline("scan", "hits", "--scanner", "tenant_leak", "--json", data_dir=data)

    assert ran.returncode == 0, ran.stderr
    assert "scanned 10 call(s): 1 with hits" in ran.stdout
    assert [(h["call_id"], h["kind"], h["detail"]) for h in json.loads(listed.stdout)] == [
        ("c3", "foreign_document", "acme-1")
    ]


def test_a_bad_documents_file_is_refused_naming_the_line(tmp_path: Path) -> None:
    documents = write_jsonl(tmp_path / "docs.jsonl", [{"doc_id": "a"}, {"tenant": "acme"}])

    refused = fireline("ingest", str(documents), "--kind", "documents", data_dir=tmp_path / "data")

    assert refused.returncode != 0
    assert "line 2" in refused.stderr
    assert "doc_id" in refused.stderr
