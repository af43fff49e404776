"""Build ``cases.jsonl``, the casebook's labelled events, from the writers' files.

The writers labelled each event in their own vocabulary (``their_lead``: the department types
of ``evals/datasets/independent/department-types.md``). The casebook needs Sanji's department
type codes: the type map (``evals/datasets/label-maps/independent-types.yaml``) gives them, and
where one of their types stands for several of ours (「交巡警」: a patrol platform or the
district brigade) the first of ours that exists at the case's level is taken. A type Sanji has
no counterpart for (「物业服务企业」) leaves ``lead_type`` empty: the case still teaches the level.

    python -m knowledge.data.labelled.build_cases WRITER.jsonl… [--out cases.jsonl]

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
        out.append(case)
    if len({c["id"] for c in out}) != len(out):
        raise ValueError("案例编号重复")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("inputs", type=Path, nargs="+")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    rows = [
        json.loads(line)
        for path in args.inputs
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    cases = build(rows, default_knowledge())
    args.out.write_text(
        "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases), encoding="utf-8"
    )
    print(f"{len(cases)} cases → {args.out}")


if __name__ == "__main__":
    main()
