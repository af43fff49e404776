"""The shipped vectors of the built-in digests (``knowledge/data/builtin-vectors.npy`` and its
manifest), so a fresh data directory builds its index without running the model.

Rebuild them whenever a digest, the passage format or the model version changes (a unit test
fails until then)::

    python -m knowledge.retrieval.builtin_vectors"""

from __future__ import annotations

import logging
from pathlib import Path

from knowledge.embedding import PassageEmbedder, model_id
from knowledge.lawtext import parse_file
from knowledge.retrieval.build import source_files
from knowledge.retrieval.corpus import BUILTIN_DIR, passage
from knowledge.retrieval.vectors import SHIPPED_FILE, key, write_shipped

log = logging.getLogger(__name__)


def passages(source: Path = BUILTIN_DIR) -> list[str]:
    """What the dense model reads of every article of the digests in ``source``, in file
    order."""
    return [
        passage(a)
        for path, manifest in source_files([source])
        for a in parse_file(path, manifest).articles
    ]


def stale_passages(shipped_keys: set[str], model: str, source: Path = BUILTIN_DIR) -> list[str]:
    """The passages of ``source`` that the shipped vectors lack under ``model``."""
    return [p for p in passages(source) if key(p, model) not in shipped_keys]


def rebuild() -> int:
    """Embed every built-in passage with the current model and write the shipped files."""
    texts = list(dict.fromkeys(passages()))
    with PassageEmbedder() as embed:
        vectors = embed(texts)
    write_shipped(texts, vectors, model_id())
    return len(texts)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    n = rebuild()
    log.info("wrote %d vectors to %s (%s)", n, SHIPPED_FILE, model_id())
