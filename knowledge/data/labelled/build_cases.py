"""Build ``cases.jsonl``, the casebook's labelled events, from the writers' files.

The writers labelled each event in their own vocabulary (``their_lead``: the department types
of ``evals/datasets/independent/department-types.md``). The casebook needs Sanji's department
type codes: the type map (``evals/datasets/label-maps/independent-types.yaml``) gives them, and
where one of their types stands for several of ours (「交巡警」: a patrol platform or the
district brigade) the first of ours that exists at the case's level is taken. A type Sanji has
no counterpart for (「物业服务企业」) leaves ``lead_type`` empty: the case still teaches the level.

    python -m knowledge.data.labelled.build_cases WRITER.jsonl… [--out cases.jsonl]

``--readers FILE…`` adds a blind second reader's labels to each case they cover (``reader``:
the same fields, from ``id, level, lead, assisting, urgency, confidence`` lines); the casebook
learns from both readings of a case.

Each input line is a writer's event (``id, source, text, address, lat, lon, district, street,
label{level, lead, assisting, urgency}``) or an already built case (``their_lead`` …): running
it on ``cases.jsonl`` itself rebuilds the same file (the test checks that)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from domain.vocabulary import Level
from knowledge import Knowledge, default_knowledge

ROOT = Path(__file__).resolve().parents[3]
TYPE_MAP = ROOT / "evals" / "datasets" / "label-maps" / "independent-types.yaml"
OUT = Path(__file__).with_name("cases.jsonl")
FIELDS = ("id", "writer", "source", "text", "address", "lat", "lon", "district", "street")


def our_type(k: Knowledge, types: dict[str, list[str]], theirs: str, level: str) -> str | None:
    """Sanji's type for their type at this level (None: Sanji has no such type)."""
    ours = types.get(theirs) or []
    for code in ours:
        if Level(level) in k.department_types[code].levels:
            return code
    return ours[0] if ours else None


def _reader(
    k: Knowledge, types: dict[str, list[str]], case_id: str, label: dict[str, Any]
) -> dict[str, Any]:
    """A blind second reader's labels of a case (as the reader wrote them, or as built)."""
    lead = label.get("their_lead") or label["lead"]
    if lead not in types:
        raise ValueError(f"{case_id}: 第二读者的主办类型「{lead}」不在类型映射中")
    return {
        "level": label["level"],
        "urgency": label["urgency"],
        "their_lead": lead,
        "their_assisting": list(label.get("their_assisting") or label.get("assisting") or []),
        "lead_type": our_type(k, types, lead, label["level"]),
        "confidence": label.get("confidence"),
    }


def with_readers(
    rows: list[dict[str, Any]], readers: Iterable[dict[str, Any]]
) -> list[dict[str, Any]]:
    """``rows`` with each case's second reader's labels (matched by id) as ``reader``."""
    by_id = {str(r["id"]): r for r in readers}
    unknown = set(by_id) - {str(r["id"]) for r in rows}
    if unknown:
        raise ValueError(f"第二读者标注了不存在的案例：{sorted(unknown)[:5]}")
    return [{**r, "reader": by_id[str(r["id"])]} if str(r["id"]) in by_id else r for r in rows]


def build(rows: Iterable[dict[str, Any]], k: Knowledge) -> list[dict[str, Any]]:
    types = yaml.safe_load(TYPE_MAP.read_text(encoding="utf-8"))["types"]
    out = []
    for r in rows:
        label = r.get("label") or {
            "level": r["level"],
            "lead": r["their_lead"],
            "assisting": r["their_assisting"],
            "urgency": r["urgency"],
        }
        if label["lead"] not in types:
            raise ValueError(f"{r['id']}: 主办类型「{label['lead']}」不在类型映射中")
        case = {f: r.get(f) for f in FIELDS}
        case["writer"] = r.get("writer") or str(r["id"]).split("-", 1)[0]
        case.update(
            level=label["level"],
            urgency=label["urgency"],
            their_lead=label["lead"],
            their_assisting=list(label.get("assisting") or []),
            lead_type=our_type(k, types, label["lead"], label["level"]),
        )
        if r.get("reader"):
            case["reader"] = _reader(k, types, r["id"], r["reader"])
        out.append(case)
    if len({c["id"] for c in out}) != len(out):
        raise ValueError("案例编号重复")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("inputs", type=Path, nargs="+")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument(
        "--readers",
        type=Path,
        nargs="*",
        default=[],
        help="second readers' files: id, level, lead, assisting, urgency, confidence",
    )
    args = ap.parse_args()
    rows = _lines(args.inputs)
    if args.readers:
        rows = with_readers(rows, _lines(args.readers))
    cases = build(rows, default_knowledge())
    args.out.write_text(
        "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases), encoding="utf-8"
    )
    print(f"{len(cases)} cases → {args.out}")


def _lines(paths: Iterable[Path]) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in paths
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


if __name__ == "__main__":
    main()
