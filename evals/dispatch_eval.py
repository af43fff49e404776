"""Whole-draft scoring on the golden set: for each event, does the draft get the subtype, the
lead department (exactly, and by type), the assisting departments, the level, the urgency, and
do its citations include the expected articles? Scored overall and per hard-case tag.

A set written in someone else's words (gold department types in its writer's vocabulary, see
``evals.typed_gold``) is scored through a type map instead, by channel, level and district."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from evals.errors import DatasetError
from evals.routing import dataset_hash, git_commit
from evals.tables import read_table
from evals.typed_gold import (
    TYPED_CHECKS,
    check_typed,
    draft_view,
    is_typed,
    load_type_map,
    score_typed,
)
from knowledge import Knowledge
from tools.pii import mask_text

CHECKS = ("subtype", "category", "lead", "lead_type", "lead_bureau", "level", "urgency")


def load_golden(path: Path, k: Knowledge) -> list[dict[str, Any]]:
    rows = read_table(path)
    for n, r in enumerate(rows, start=1):
        gold = r.get("gold")
        if not isinstance(gold, dict) or not r.get("text"):
            raise DatasetError(f"{path.name} 第{n}行需要 text 和 gold")
        for key in ("subtype", "lead_department", "level", "urgency"):
            if not gold.get(key):
                raise DatasetError(f"{path.name} 第{n}行 gold 缺少 {key}")
        if gold["subtype"] not in k.subtypes:
            raise DatasetError(f"{path.name} 第{n}行：未知小类 {gold['subtype']}")
        if gold["lead_department"] not in k.departments:
            raise DatasetError(f"{path.name} 第{n}行：未知部门 {gold['lead_department']}")
    return rows


def _bureau(k: Knowledge, department: str) -> str:
    kind = k.departments[department].type
    return k.department_types[kind].unit_of or kind


def score(row: dict[str, Any], draft: dict[str, Any], k: Knowledge) -> dict[str, Any]:
    gold = row["gold"]
    lead = draft["lead_department"]["code"]
    assist_gold = set(gold.get("assisting_departments") or [])
    assist = {a["code"] for a in draft["assisting_departments"]}
    cited = {(c["title"], c["article"]) for c in draft["legal_basis"]}
    expected = {(a["title"], a["article"]) for a in gold.get("articles") or []}
    return {
        "subtype": draft["category"]["code"] == gold["subtype"],
        "category": k.subtypes[draft["category"]["code"]].category
        == k.subtypes[gold["subtype"]].category,
        "lead": lead == gold["lead_department"],
        "lead_type": k.departments[lead].type == k.departments[gold["lead_department"]].type,
        # a stationed unit and its bureau (派出所 and 公安分局) are the same lead by bureau
        "lead_bureau": _bureau(k, lead) == _bureau(k, gold["lead_department"]),
        "level": draft["level"] == gold["level"],
        "urgency": draft["urgency"] == gold["urgency"],
        "assist_recall": len(assist & assist_gold) / len(assist_gold) if assist_gold else None,
        "assist_precision": len(assist & assist_gold) / len(assist)
        if assist and assist_gold
        else None,
        "articles_all": expected <= cited if expected else None,
        "articles_any": bool(expected & cited) if expected else None,
    }


def _rate(values: Sequence[bool | float | None]) -> float | None:
    xs = [float(v) for v in values if v is not None]
    return round(sum(xs) / len(xs), 4) if xs else None


def summarize(scores: Sequence[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"cases": len(scores)}
    for key in (*CHECKS, "assist_recall", "assist_precision", "articles_all", "articles_any"):
        out[key] = _rate([s[key] for s in scores])
    out["all_right"] = _rate(
        [all(s[c] for c in ("subtype", "lead", "level", "urgency")) for s in scores]
    )
    return out


def summarize_typed(scores: Sequence[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"cases": len(scores)}
    for key in (
        *TYPED_CHECKS,
        "lead_disposer",
        "assist_recall",
        "assist_precision",
        "article_cited",
        "article_offered",
        "cited_exist",
    ):
        out[key] = _rate([s[key] for s in scores])
    out["all_right"] = _rate([all(s[c] for c in TYPED_CHECKS) for s in scores])
    # the drafts with nothing for an officer to confirm, and how right they are
    alone = [s for s in scores if s.get("alone")]
    out["alone"] = _rate([bool(s.get("alone")) for s in scores])
    for key in ("lead_type", "level", "urgency"):
        out[f"alone_{key}"] = _rate([s[key] for s in alone])
    return out


def _draft_or_error(
    drafter: Callable[[dict[str, Any]], dict[str, Any]], row: dict[str, Any]
) -> tuple[dict[str, Any] | None, str]:
    """A typed set counts a row that fails to draft instead of stopping the run."""
    try:
        return drafter(row), ""
    except Exception as exc:  # any failure to draft is what this counts
        return None, f"{type(exc).__name__}: {exc}"[:300]


def evaluate_dispatch(
    path: Path,
    k: Knowledge,
    drafter: Callable[[dict[str, Any]], dict[str, Any]],
    out: Path,
    *,
    engine: str,
    type_map: Path | None = None,
    exists: Callable[[str, str], bool] = lambda title, article: True,
    progress: Callable[[int, int], None] = lambda n, total: None,
) -> dict[str, Any]:
    rows = read_table(path)
    typed = is_typed(rows)
    if typed:
        if type_map is None:
            raise DatasetError(f"{path.name} 的部门写的是数据集自己的类型名，需要 --type-map")
        tmap = load_type_map(type_map, k)
        check_typed(rows, path.name, tmap)
    else:
        rows = load_golden(path, k)
    scores, latencies, lines = [], [], []
    groups: dict[str, list[dict[str, Any]]] = {}
    for n, row in enumerate(rows, start=1):
        started = time.perf_counter()
        if typed:
            got, error = _draft_or_error(drafter, row)
            latencies.append((time.perf_counter() - started) * 1000)
            s = score_typed(row, got, k, tmap, exists)
            view = draft_view(got, k) if got is not None else {"error": error}
            keys = [
                f"渠道:{row.get('source')}",
                f"层级:{row['gold']['level']}",
                f"区县:{row.get('district') or '（无）'}",
            ]
        else:
            draft = drafter(row)
            latencies.append((time.perf_counter() - started) * 1000)
            s = score(row, draft, k)
            view = draft_view(draft, k)
            keys = list(row.get("tags") or [])
        scores.append(s)
        for key in keys:
            groups.setdefault(key, []).append(s)
        lines.append(
            {
                "id": row.get("id"),
                "text": mask_text(str(row["text"])[:160]),
                "tags": row.get("tags") or [],
                "gold": row["gold"],
                "draft": view,
                "score": s,
            }
        )
        progress(n, len(rows))
    summary = summarize_typed if typed else summarize
    result = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "dataset": {"name": path.name, "hash": dataset_hash(path)},
        "engine": engine,
        "git_commit": git_commit(),
        "typed": typed,
        "type_map": type_map.name if typed and type_map else None,
        "overall": summary(scores),
        "by_tag": {tag: summary(v) for tag, v in sorted(groups.items())},
        "latency_ms": {
            "p50": round(statistics.median(latencies), 2),
            "p95": round(float(np.percentile(latencies, 95)), 2),
        },
        "needs_human": sum(1 for line in lines if line["draft"].get("needs_human")),
        "failed": [line["id"] for line in lines if "error" in line["draft"]],
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(
        json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    with (out / "predictions.jsonl").open("w", encoding="utf-8") as fh:
        for line in lines:
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    return result
