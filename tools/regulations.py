"""Regulation tools: ``search_regulations`` (hybrid retrieval) and ``get_article`` (exact lookup)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from knowledge.lawtext import Article
from knowledge.retrieval import Hit, RegulationIndex
from knowledge.retrieval.rerank import explain


class RegulationQuery(BaseModel):
    question: str = Field(
        min_length=1, max_length=500, description="要查的问题，用口语即可，如「楼下烧烤油烟怎么管」"
    )
    k: int = Field(default=5, ge=1, le=50, description="返回条数")
    region: str | None = Field(default=None, description="地区过滤：全国、重庆")
    level: str | None = Field(
        default=None, description="层级过滤：法律、行政法规、部门规章、地方性法规"
    )
    title: str | None = Field(default=None, description="只在这部法规中查找（完整标题）")
    mode: Literal["hybrid", "fused", "lexical", "dense"] = Field(
        default="hybrid",
        description="检索方式：hybrid 融合并重排（默认），fused 仅倒数排名融合，lexical 关键词，dense 语义",
    )


class ArticleHit(BaseModel):
    title: str
    article: str = Field(description="条号，如 第十五条")
    article_no: int
    level: str
    region: str
    chapter: str
    text: str
    digest: bool = Field(description="是否为 Sanji 编写的要点摘要（非法规原文）")
    citation: str = Field(description="引用格式，如《重庆市消防条例》第二十八条")
    score: float
    lexical_rank: int | None
    dense_rank: int | None
    why: list[str] = Field(default=[], description="排在这里的主要理由（混合检索时）")


def _hit(
    a: Article,
    score: float,
    lexical_rank: int | None = None,
    dense_rank: int | None = None,
    why: list[str] | None = None,
) -> ArticleHit:
    return ArticleHit(
        title=a.title,
        article=a.article,
        article_no=a.article_no,
        level=a.level,
        region=a.region,
        chapter=a.location,
        text=a.text,
        digest=a.digest,
        citation=f"《{a.title}》{a.article}",
        score=score,
        lexical_rank=lexical_rank,
        dense_rank=dense_rank,
        why=why or [],
    )


def search_regulations(index: RegulationIndex, q: RegulationQuery) -> list[ArticleHit]:
    """按问题检索法规条文（关键词与语义混合检索），返回法规名称、条号、条文和得分，可按地区、层级、法规名过滤。"""
    hits = index.search(
        q.question, k=q.k, region=q.region, level=q.level, title=q.title, mode=q.mode
    )
    return [hit_view(h) for h in hits]


def hit_view(h: Hit) -> ArticleHit:
    why = explain(h.signals, dense=h.dense_rank is not None)
    return _hit(h.unit, h.score, h.lexical_rank, h.dense_rank, why)


class ArticleQuery(BaseModel):
    title: str = Field(description="法规完整标题，如 中华人民共和国消防法")
    article: str = Field(
        description="条号，如 第二十八条、28 或 第十条之一",
        pattern=r"^\s*(\d{1,4}|第[零〇一二两三四五六七八九十百千]+条(之[一二三四五六七八九十]+)?)\s*$",
    )


def get_article(index: RegulationIndex, q: ArticleQuery) -> ArticleHit | None:
    """按法规标题和条号精确取出一条条文，用于核对引用；找不到时返回空。"""
    article = q.article.strip()
    unit = index.get_article(q.title, int(article) if article.isdigit() else article)
    if unit is None:
        return None
    return _hit(unit, 1.0)
