"""Retrieval evaluation: recall@1/5/10, MRR and latency of the regulation index on a JSONL
dataset of questions with the (title, article) pairs that answer them, overall and per question
style (``style``: officer, layperson, grid; a row without one is an officer's question)."""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evals.errors import DatasetError
from evals.tables import numbered_rows
from knowledge.retrieval import RegulationIndex

KS = (1, 5, 10)


@dataclass
class Question:
    id: str
    question: str
    answers: set[tuple[str, str]]
    style: str = "officer"


def load_dataset(path: Path) -> list[Question]:
    """Questions with their answers, one per row (JSONL; CSV or XLSX with an ``answers`` cell
    holding a JSON list also work)."""
    out = []
    for n, row in numbered_rows(path):
        try:
            raw = row["answers"]
            raw = json.loads(raw) if isinstance(raw, str) else raw
            answers = {(a["title"], a["article"]) for a in raw}
            question = str(row["question"]).strip()
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise DatasetError(
                f"{path.name} 第{n}行：需要 question 和 answers[{{title, article}}]（{exc}）"
            ) from exc
        if not question or not answers:
            raise DatasetError(f"{path.name} 第{n}行：question 或 answers 为空")
        style = str(row.get("style") or "officer").strip()
        out.append(Question(str(row.get("id", n)), question, answers, style))
    return out


def evaluate(
    index: RegulationIndex, questions: list[Question], mode: str = "hybrid", llm: Any = None
) -> dict[str, Any]:
    """``mode`` is an index mode (hybrid, fused, lexical, dense) or ``llm``: the hybrid
    candidates re-ordered by the configured model (``llm``), falling back as in production."""
    if mode == "llm" and llm is None:
        raise ValueError("mode llm needs a configured model (SANJI_LLM_BASE_URL)")
    from agents import regsearch

    fallbacks = 0
    ranks: list[int | None] = []
    by_style: dict[str, list[int | None]] = {}
    latencies = []
    misses = []
    for q in questions:
        started = time.perf_counter()
        if mode == "llm":
            ranked = regsearch.search(index, q.question, k=max(KS), llm=llm)
            fallbacks += ranked.engine != "llm"
            results = ranked.hits
        else:
            results = index.search(q.question, k=max(KS), mode=mode)
        latencies.append((time.perf_counter() - started) * 1000)
        found = [(h.unit.title, h.unit.article) for h in results]
        rank = next((n for n, key in enumerate(found, start=1) if key in q.answers), None)
        ranks.append(rank)
        by_style.setdefault(q.style, []).append(rank)
        if rank != 1:
            misses.append(
                {
                    "id": q.id,
                    "question": q.question,
                    "rank": rank,
                    "expected": [f"《{t}》{a}" for t, a in sorted(q.answers)],
                    "got": [f"《{t}》{a}" for t, a in found[:3]],
                }
            )
    n = len(questions)
    latencies.sort()
    return {
        "mode": mode,
        "questions": n,
        **rank_metrics(ranks),
        "by_style": {
            style: {"questions": len(r), **rank_metrics(r)} for style, r in sorted(by_style.items())
        },
        "latency_ms": {
            "p50": round(statistics.median(latencies), 2),
            "p95": round(latencies[int(0.95 * (n - 1))], 2),
        },
        "misses": misses,
        **({"llm_fallbacks": fallbacks} if mode == "llm" else {}),
    }


def rank_metrics(ranks: list[int | None]) -> dict[str, float]:
    """recall@1/5/10 and MRR from the rank of the first right answer (None: not found)."""
    n = len(ranks) or 1
    out = {f"recall@{k}": round(sum(1 for r in ranks if r and r <= k) / n, 4) for k in KS}
    out["mrr"] = round(sum(1 / r for r in ranks if r) / n, 4)
    return out


def write_report(
    out: Path, dataset: Path, runs: list[dict[str, Any]], index: RegulationIndex
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    summary = {
        "dataset": str(dataset),
        "units": len(index.units),
        "laws": len(index.titles()),
        "runs": runs,
    }
    (out / "metrics.json").write_text(
        json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    lines = [
        "# 法规检索评测 Retrieval evaluation\n",
        f"数据集：`{dataset}`，索引 {len(index.units)} 条，{len(index.titles())} 部法规。\n",
        "| 方式 mode | R@1 | R@5 | R@10 | MRR | p50 ms | p95 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r['mode']} | {r['recall@1']:.3f} | {r['recall@5']:.3f} | {r['recall@10']:.3f} | "
            f"{r['mrr']:.3f} | {r['latency_ms']['p50']} | {r['latency_ms']['p95']} |"
        )
    styles = sorted({s for r in runs for s in r.get("by_style", {})})
    if len(styles) > 1:
        lines += ["", "## 按提问风格 By question style", ""]
        lines += [
            "| 方式 mode | 风格 style | 问题数 | R@1 | R@5 | R@10 | MRR |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in runs:
            for style, m in r["by_style"].items():
                lines.append(
                    f"| {r['mode']} | {style} | {m['questions']} | {m['recall@1']:.3f} | "
                    f"{m['recall@5']:.3f} | {m['recall@10']:.3f} | {m['mrr']:.3f} |"
                )
    main = runs[0]
    lines += ["", f"## 未排第一的问题（{main['mode']}，共 {len(main['misses'])} 个）", ""]
    for m in main["misses"]:
        lines.append(
            f"- **{m['id']}** {m['question']} — 期望 {'、'.join(m['expected'])}；"
            f"名次 {m['rank'] or '未进前10'}；前三 {'、'.join(m['got'])}"
        )
    (out / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
