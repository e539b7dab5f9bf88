"""The knowledge base's documents, as scanners need them: owner tenant, source and age."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Document:
    """One retrievable document: who owns it, where it came from, when it was published."""

    doc_id: str
    tenant: str | None = None
    source: str | None = None
    published: datetime | None = None


#: Reads the stored documents among the ids asked for.
DocumentLoader = Callable[[list[str]], Iterable[Document]]


class DocumentCatalog(Mapping[str, Document]):
    """Documents by id, read from a store in batches and kept in a bounded cache.

    The scan runner calls `prefetch` with every id a batch of calls mentions, so each batch
    costs one query; a lookup of an id that was prefetched and not found is remembered as
    missing. Without a loader the catalog holds only what `add` gave it (tests, drills).

    >>> catalog = DocumentCatalog()
    >>> catalog.add([Document("kb-1", tenant="acme")])
    >>> catalog["kb-1"].tenant, "kb-2" in catalog
    ('acme', False)
    """

    def __init__(
        self,
        loader: DocumentLoader | None = None,
        *,
        stored: Callable[[], bool] | None = None,
        cache_size: int = 200_000,
    ) -> None:
        self.loader = loader
        #: Whether the store holds any document (asked at each prefetch): an empty store is
        #: a knowledge base nobody registered, not one without the cited documents.
        self.stored = stored
        self._any_stored = True
        self.cache_size = cache_size
        self._found: OrderedDict[str, Document | None] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, documents: Iterable[Document]) -> None:
        """Know these documents (replacing older versions of the same ids)."""
        with self._lock:
            for document in documents:
                self._remember(document.doc_id, document)

    def prefetch(self, doc_ids: Iterable[str]) -> None:
        """Read the ids not yet known from the store, in one query."""
        if self.loader is None:
            return
        if self.stored is not None:
            self._any_stored = self.stored()
        with self._lock:
            missing = sorted({doc_id for doc_id in doc_ids if doc_id not in self._found})
        if not missing:
            return
        loaded = {document.doc_id: document for document in self.loader(missing)}
        with self._lock:
            for doc_id in missing:
                self._remember(doc_id, loaded.get(doc_id))

    def forget(self) -> None:
        """Drop the cache: documents were added to the store behind the catalog's back."""
        with self._lock:
            self._found.clear()

    def _remember(self, doc_id: str, document: Document | None) -> None:
        self._found[doc_id] = document
        self._found.move_to_end(doc_id)
        while len(self._found) > self.cache_size:
            self._found.popitem(last=False)

    def __getitem__(self, doc_id: str) -> Document:
        with self._lock:
            document = self._found.get(doc_id)
        if document is None:
            raise KeyError(doc_id)
        return document

    def __contains__(self, doc_id: object) -> bool:
        with self._lock:
            return self._found.get(doc_id) is not None if isinstance(doc_id, str) else False

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter([key for key, value in self._found.items() if value is not None])

    def __len__(self) -> int:
        with self._lock:
            return sum(value is not None for value in self._found.values())

    @property
    def knows_all(self) -> bool:
        """Whether an id absent from the catalog is absent from the knowledge base.

        True only when the catalog reads a store that holds documents: a catalog filled by
        hand may be partial, and an empty store is a knowledge base nobody registered; then
        no citation is called unknown for lack of an entry.
        """
        return self.loader is not None and self._any_stored
