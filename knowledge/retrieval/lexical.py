"""Lexical retrieval: BM25 over character unigrams and bigrams, at three grains (whole
articles, their paragraphs, their chapter headings), and the officer-word expansions of
``synonyms.yaml``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import bm25s
import numpy as np
import yaml

from knowledge.lawtext import Article
from knowledge.retrieval.corpus import paragraphs, short_name

SYNONYMS_FILE = Path(__file__).parents[1] / "data" / "synonyms.yaml"
#: weight of the officer-word expansions (synonyms.yaml) beside the question's own words
SYNONYM_WEIGHT = 0.35
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


def _query_tokens(text: str, vocab: dict[str, int]) -> list[str]:
    return [
        t
        for t in tokens(text)
        if t in vocab and t not in QUESTION_CHARS and t not in QUESTION_BIGRAMS
    ]


def load_synonyms(path: Path | None = None) -> dict[str, list[str]]:
    path = path or SYNONYMS_FILE
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {str(k): [str(x) for x in v] for k, v in (data.get("terms") or {}).items()}


def expand(synonyms: dict[str, list[str]], query: str) -> str:
    """The regulations' words for the officer words in the question."""
    return " ".join(" ".join(v) for k, v in synonyms.items() if k in query)


@dataclass(frozen=True)
class LexicalIndex:
    """BM25 over whole articles, over their paragraphs (an article scores as its best
    paragraph) and over chapter headings (an article scores as its chapter). Every score
    array has one entry per unit."""

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
    def of(cls, units: Sequence[Article]) -> LexicalIndex:
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

    def expanded_articles(self, query: str, expansion: str) -> np.ndarray:
        """Article BM25 of the question's own words plus its expansions at SYNONYM_WEIGHT."""
        return self.articles(query) + SYNONYM_WEIGHT * self.articles(expansion)

    def expanded_paragraphs(self, query: str, expansion: str) -> np.ndarray:
        """Paragraph BM25 of the question's own words plus its expansions at SYNONYM_WEIGHT."""
        return self.paragraphs(query) + SYNONYM_WEIGHT * self.paragraphs(expansion)
