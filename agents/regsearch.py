"""Regulation search with the LLM engine: the offline hybrid index finds the candidates, the
model re-orders them by whether they answer the question. The model may only name candidates
it was shown; anything else (or a failing endpoint) keeps the offline order, and the answer
says which engine ranked it."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from agents.llm import LLM, LLMFailed, Usage
from knowledge.retrieval import Hit, RegulationIndex
from prompts import load

#: how many offline candidates the model sees (each shown with up to SHOW_CHARS of text)
POOL = 10
SHOW_CHARS = 220


class RerankAnswer(BaseModel):
    order: list[int] = Field(min_length=1, max_length=POOL)
    reason: str = Field(default="", max_length=200)


@dataclass
class RankedHits:
    hits: list[Hit]
    engine: str  # "llm" | "offline"
    reason: str = ""
    fallback: str = ""  # why the offline order was kept, when the model was asked
    usage: Usage = field(default_factory=Usage)
    seconds: float = 0.0


def search(
    index: RegulationIndex,
    question: str,
    *,
    k: int = 5,
    llm: LLM | None = None,
    region: str | None = None,
    level: str | None = None,
    title: str | None = None,
) -> RankedHits:
    """The ``k`` best articles: re-ordered by the model when one is configured, else (or when
    it fails) in the offline hybrid order."""
    started = time.perf_counter()
    pool = index.search(question, k=max(k, POOL), region=region, level=level, title=title)
    if llm is None or len(pool) < 2:
        return RankedHits(pool[:k], "offline", seconds=time.perf_counter() - started)
    shown = pool[:POOL]
    usage = Usage()
    lines = [
        f"[{n}] 《{h.unit.title}》{h.unit.article}（{h.unit.location or '无章节'}）："
        f"{h.unit.text[:SHOW_CHARS]}"
        for n, h in enumerate(shown, start=1)
    ]

    def check(answer: RerankAnswer) -> list[str]:
        bad = [n for n in answer.order if not 1 <= n <= len(shown)]
        problems = [f"编号 {bad} 不在候选范围 1–{len(shown)} 内"] if bad else []
        if len(set(answer.order)) != len(answer.order):
            problems.append("编号有重复")
        return problems

    try:
        answer = llm.ask(
            load("policy.rerank"),
            RerankAnswer,
            usage,
            check=check,
            candidates="\n".join(lines),
            question=re.sub(r"</?问题>", "", question)[:500],  # the question cannot close its tag
        )
    except LLMFailed as exc:
        return RankedHits(
            pool[:k],
            "offline",
            fallback=str(exc),
            usage=usage,
            seconds=time.perf_counter() - started,
        )
    picked = set(answer.order)
    rest = [h for n, h in enumerate(pool, start=1) if n not in picked]
    return RankedHits(
        ([shown[n - 1] for n in answer.order] + rest)[:k],
        "llm",
        reason=answer.reason,
        usage=usage,
        seconds=time.perf_counter() - started,
    )
