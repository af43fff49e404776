"""Scoring drafts against a golden set written in someone else's words.

An independently written set cannot use Sanji's department codes: its writer never saw them.
Its gold names department *types* in the writer's own vocabulary (「街道综合行政执法大队」,
「区生态环境局」) with the level, the urgency and at most one applicable article. A type map
(YAML, ``{dataset: name, types: {their name: [our type codes]}}``), written after the set was
frozen, says which of our types count as each of theirs; an empty list says Sanji has no such
type (a gold lead of that type is always missed). A draft is scored on the lead type,
the level, the urgency, the assisting types, whether it cites the expected article, and whether
every article it cites exists in the regulation index; a row that fails to draft is counted,
not fatal."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from evals.errors import DatasetError
from knowledge import Knowledge

LEVELS = ("street", "district", "city")
URGENCIES = ("normal", "urgent", "critical")
TYPED_CHECKS = ("drafted", "lead_type", "level", "urgency")


@dataclass(frozen=True)
class TypeMap:
    name: str
    types: dict[str, frozenset[str]]  # their type name -> our department type codes

    def ours(self, theirs: str) -> frozenset[str]:
        return self.types.get(theirs, frozenset())


def load_type_map(path: Path, k: Knowledge) -> TypeMap:
    """Read and check a type map: every code must be one of our department types."""
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        table = spec["types"]
        if not isinstance(table, dict):
            raise TypeError("types is not a mapping")
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise DatasetError(
            f"类型映射 {path} 无法读取：需要 types: {{数据集的部门类型: [本系统部门类型编码]}}（{exc}）"
        ) from exc
    out: dict[str, frozenset[str]] = {}
    for theirs, codes in table.items():
        codes = [str(c) for c in (codes if isinstance(codes, list) else [codes] if codes else [])]
        unknown = [c for c in codes if c not in k.department_types]
        if unknown:
            raise DatasetError(
                f"类型映射 {path.name}：{theirs} 映射到未知部门类型 {'、'.join(unknown)}"
            )
        out[str(theirs)] = frozenset(codes)
    return TypeMap(name=str(spec.get("dataset") or path.stem), types=out)


def is_typed(rows: Sequence[dict[str, Any]]) -> bool:
    """Whether a golden set names types in its own words (``gold.lead``) rather than our
    department codes (``gold.lead_department``)."""
    return bool(rows) and all(
        isinstance(r.get("gold"), dict)
        and "lead" in r["gold"]
        and "lead_department" not in r["gold"]
        for r in rows
    )


def check_typed(rows: Sequence[dict[str, Any]], name: str, tmap: TypeMap) -> None:
    """Every row has the fields a typed gold needs, and every type it names is mapped."""
    for n, r in enumerate(rows, start=1):
        gold = r["gold"]
        if not r.get("text"):
            raise DatasetError(f"{name} 第{n}行没有 text")
        if gold.get("level") not in LEVELS or gold.get("urgency") not in URGENCIES:
            raise DatasetError(f"{name} 第{n}行 gold 的 level / urgency 不合法")
        for t in [gold.get("lead"), *(gold.get("assisting") or [])]:
            if str(t) not in tmap.types:
                raise DatasetError(f"{name} 第{n}行：部门类型「{t}」不在类型映射 {tmap.name} 中")


def _article(gold: dict[str, Any]) -> tuple[str, str] | None:
    a = gold.get("article")
    if isinstance(a, dict) and a.get("title") and a.get("article"):
        return str(a["title"]), str(a["article"])
    return None


def score_typed(
    row: dict[str, Any],
    draft: dict[str, Any] | None,
    k: Knowledge,
    tmap: TypeMap,
    exists: Callable[[str, str], bool],
) -> dict[str, Any]:
    """One row's checks; ``draft`` is None when drafting failed (every check then fails)."""
    gold = row["gold"]
    expected = _article(gold)
    if draft is None:
        return {
            "drafted": False,
            "lead_type": False,
            "lead_disposer": False,
            "level": False,
            "urgency": False,
            "assist_recall": None,
            "assist_precision": None,
            "article_cited": False if expected else None,
            "article_offered": False if expected else None,
            "cited_exist": None,
            "alone": False,
        }
    lead_type = k.departments[draft["lead_department"]["code"]].type
    # an event whose street is unknown is held by a governance centre until a person names the
    # place; the draft says which type disposes then: scored apart as ``lead_disposer``
    disposer = draft.get("pending_lead_type") or lead_type
    assist_types = {
        k.departments[a["code"]].type
        for a in draft["assisting_departments"]
        if a["code"] in k.departments
    }
    wanted = [tmap.ours(str(t)) for t in gold.get("assisting") or []]
    found = [bool(w & assist_types) for w in wanted]
    theirs_any = frozenset().union(*wanted) if wanted else frozenset()
    cited = [(str(c["title"]), str(c["article"])) for c in draft["legal_basis"]]
    offered = [(str(c["title"]), str(c["article"])) for c in draft.get("proposed_basis", [])]
    return {
        "drafted": True,
        "lead_type": lead_type in tmap.ours(str(gold["lead"])),
        "lead_disposer": disposer in tmap.ours(str(gold["lead"])),
        "level": draft["level"] == gold["level"],
        "urgency": draft["urgency"] == gold["urgency"],
        "assist_recall": sum(found) / len(found) if found else None,
        "assist_precision": (
            len(assist_types & theirs_any) / len(assist_types) if assist_types and wanted else None
        ),
        "article_cited": expected in cited if expected else None,
        # cited, or offered to the officer beside the order (``proposed_basis``)
        "article_offered": expected in cited + offered if expected else None,
        "cited_exist": all(exists(t, a) for t, a in cited) if cited else None,
        # drafted with nothing for an officer to confirm (the casebook sure, the place known…)
        "alone": not draft["needs_human"],
    }


def draft_view(draft: dict[str, Any], k: Knowledge) -> dict[str, Any]:
    """What a draft decided, in the words of the predictions file (both kinds of golden set)."""
    return {
        "subtype": draft["category"]["code"],
        "confidence": draft["category"]["confidence"],
        "lead": draft["lead_department"]["code"],
        "lead_type": k.departments[draft["lead_department"]["code"]].type,
        "assisting": [a["code"] for a in draft["assisting_departments"]],
        "level": draft["level"],
        "urgency": draft["urgency"],
        "articles": [f"《{c['title']}》{c['article']}" for c in draft["legal_basis"]],
        "proposed": [f"《{c['title']}》{c['article']}" for c in draft.get("proposed_basis", [])],
        "needs_human": draft["needs_human"],
        "pending_lead_type": draft.get("pending_lead_type"),
        "precedents": [p["id"] for p in draft.get("precedents", [])],
        "precedent_confidence": draft.get("precedent_confidence"),
    }
