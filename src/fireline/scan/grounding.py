"""Grounding: citations that point nowhere, and retrieved context too old or from a bad source."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from typing import ClassVar

from fireline.domain.telemetry import Call
from fireline.scan.base import Hit, Part
from fireline.scan.documents import Document, DocumentCatalog

_EXAMPLE_TIME = datetime(2026, 1, 1, tzinfo=UTC)


class GroundingScanner:
    """Finds hallucinated citations and poisoned context.

    A cited document that was not retrieved for the call is `citation_not_retrieved`; one the
    knowledge base does not have is `citation_unknown` (only when `documents` reads the
    whole knowledge base). A retrieved document published more than `max_age_days` before
    the call is `stale_document`; one whose source matches a `denied_sources` pattern
    (shell-style, like "forum.*" or "*/archive/*") is `denied_source`.

    >>> scanner = GroundingScanner()
    >>> [(hit.kind, hit.detail) for hit in scanner.scan(GroundingScanner.example())]
    [('citation_not_retrieved', 'kb-404')]
    """

    name: ClassVar[str] = "grounding"
    kinds: ClassVar[frozenset[str]] = frozenset(
        {"citation_not_retrieved", "citation_unknown", "stale_document", "denied_source"}
    )
    parts: ClassVar[frozenset[Part]] = frozenset({Part.RETRIEVED, Part.CITED})

    def __init__(
        self,
        documents: Mapping[str, Document] | None = None,
        *,
        max_age_days: float | None = None,
        denied_sources: Sequence[str] = (),
    ) -> None:
        self.documents: Mapping[str, Document] = documents if documents is not None else {}
        self.max_age_days = max_age_days
        self.denied_sources = tuple(denied_sources)
        self._max_age = None if max_age_days is None else timedelta(days=max_age_days)

    def scan(self, call: Call) -> list[Hit]:
        hits: list[Hit] = []
        retrieved = set(call.retrieved_doc_ids)
        knows_all = isinstance(self.documents, DocumentCatalog) and self.documents.knows_all
        for doc_id in dict.fromkeys(call.cited_doc_ids):
            if knows_all and doc_id not in self.documents:
                hits.append(Hit(self.name, "citation_unknown", Part.CITED, detail=doc_id))
            elif retrieved and doc_id not in retrieved:
                # Citing with no retrieval recorded says nothing: the app may not report it.
                hits.append(Hit(self.name, "citation_not_retrieved", Part.CITED, detail=doc_id))
        for doc_id in dict.fromkeys(call.retrieved_doc_ids):
            document = self.documents.get(doc_id)
            if document is None:
                continue
            if self._stale(document, call.time):
                hits.append(Hit(self.name, "stale_document", Part.RETRIEVED, detail=doc_id))
            if document.source is not None and any(
                fnmatchcase(document.source, pattern) for pattern in self.denied_sources
            ):
                hits.append(Hit(self.name, "denied_source", Part.RETRIEVED, detail=doc_id))
        return hits

    def _stale(self, document: Document, when: datetime) -> bool:
        if self._max_age is None or document.published is None:
            return False
        published = document.published
        if published.tzinfo is None:
            published = published.replace(tzinfo=UTC)
        moment = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
        return moment - published > self._max_age

    @classmethod
    def example(cls) -> Call:
        return Call(
            call_id="example-grounding",
            time=_EXAMPLE_TIME,
            feature="help-center",
            retrieved_doc_ids=("kb-12", "kb-31"),
            cited_doc_ids=("kb-12", "kb-404"),
            output_text="Refunds take 5 days [kb-12], or 2 days for members [kb-404].",
        )
