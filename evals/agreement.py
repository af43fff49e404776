"""How far a second careful reader agrees with an independent golden set's writer, and where
Sanji and the plain baseline stand against the readers.

The independent sets were each written by one person, so "level 85 %, lead 80 %" measures
agreement with one writer's judgement. Two more readers labelled the same events blind (the
texts, addresses and coordinates only, in the writer's vocabulary, from the seed and DOMAIN.md,
never seeing the writer's labels, Sanji's knowledge or each other's work; see
``evals/datasets/second-readers/README.md``). This reports, per set:

- agreement between every pair of humans (level, lead type, urgency; Cohen's kappa for the
  level), the lead compared at the type map's resolution, as Sanji's is, and exactly;
- Sanji and the baseline against each human, against the majority of the three where there is
  one, and on the events all three agree on;
- *leave one out*: for each human, the events on which the other two agree; how often that
  human, Sanji and the baseline give the same answer. That is the fair comparison of Sanji
  with a person: the same items, the same reference.

The baseline (``evals.baselines.StrongBaseline``) is trained on the *other* set's writer labels
and scored here, as ``evals.typed_baseline`` does, or with ``--baseline-train`` on the rows
Sanji's casebook learned from (the fair comparison once the casebook decides).

    python -m evals.agreement \\
        --set evals/datasets/independent/independent-golden.jsonl --predictions D1/predictions.jsonl \\
        --set evals/datasets/independent-2/independent-golden-2.jsonl --predictions D2/predictions.jsonl \\
        --readers evals/datasets/second-readers/reader-a.jsonl \\
        --readers evals/datasets/second-readers/reader-b.jsonl \\
        --type-map evals/datasets/label-maps/independent-types.yaml [--json OUT]

``--predictions`` is the file ``sanji eval dispatch --out DIR`` writes for that set. Only totals
are printed, never rows: the second set stays unread.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Callable, Sequence
from itertools import combinations
from pathlib import Path
from typing import Any

from evals.typed_baseline import fitted, rows_of
from evals.typed_gold import TypeMap, load_type_map
from knowledge import default_knowledge

FIELDS = ("level", "lead", "urgency")
Labels = dict[str, dict[str, str]]  # event id -> field -> label


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text("utf-8").splitlines() if x.strip()]


def kappa(a: Sequence[str], b: Sequence[str]) -> float:
    """Cohen's kappa of two raters over the same items."""
    n = len(a)
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[k] * cb[k] for k in ca) / (n * n)
    return 1.0 if expected == 1 else (observed - expected) / (1 - expected)


class Agreement:
    """Compares labels in the writer's vocabulary; a lead matches when the two types share
    one of our department types (the resolution Sanji's lead is scored at) or, exactly, when
    the names are equal."""

    def __init__(self, tmap: TypeMap) -> None:
        self.tmap = tmap

    def same(self, field: str, a: str, b: str, exact: bool = False) -> bool:
        if field != "lead" or exact or a == b:
            return a == b
        return bool(self.tmap.ours(a) & self.tmap.ours(b))

    def sanji(self, field: str, draft: dict[str, Any], label: str) -> bool:
        if field == "lead":
            return str(draft["lead_type"]) in self.tmap.ours(label)
        return str(draft[field]) == label


def _rate(hits: Sequence[bool]) -> dict[str, Any]:
    return {"n": len(hits), "rate": round(sum(hits) / len(hits), 3) if hits else None}


def majority(values: Sequence[str], same: Callable[[str, str], bool]) -> str | None:
    """A label at least two of the humans share (the first such), else None."""
    for a, b in combinations(values, 2):
        if same(a, b):
            return a
    return None


def score_set(
    ids: Sequence[str],
    humans: dict[str, Labels],
    drafts: dict[str, dict[str, Any]],
    baseline: dict[str, dict[str, str]],
    agree: Agreement,
) -> dict[str, Any]:
    names = list(humans)
    out: dict[str, Any] = {"events": len(ids)}
    for field in FIELDS:

        def same(a: str, b: str, f: str = field) -> bool:
            return agree.same(f, a, b)

        f: dict[str, Any] = {"pairs": {}, "sanji": {}, "baseline": {}}
        for a, b in combinations(names, 2):
            la = [humans[a][i][field] for i in ids]
            lb = [humans[b][i][field] for i in ids]
            pair = _rate([same(x, y) for x, y in zip(la, lb, strict=True)])
            if field == "lead":
                exact = [agree.same(field, x, y, exact=True) for x, y in zip(la, lb, strict=True)]
                pair["exact"] = _rate(exact)["rate"]
            else:
                pair["kappa"] = round(kappa(la, lb), 3)
            f["pairs"][f"{a}~{b}"] = pair
        for h in names:
            f["sanji"][h] = _rate([agree.sanji(field, drafts[i], humans[h][i][field]) for i in ids])
            f["baseline"][h] = _rate([same(baseline[i][field], humans[h][i][field]) for i in ids])
        votes = {i: majority([humans[h][i][field] for h in names], same) for i in ids}
        held = [i for i in ids if votes[i] is not None]
        unanimous = [
            i
            for i in ids
            if all(same(humans[names[0]][i][field], humans[h][i][field]) for h in names)
        ]
        for key, items in (("majority", held), ("unanimous", unanimous)):
            f["sanji"][key] = _rate([agree.sanji(field, drafts[i], str(votes[i])) for i in items])
            f["baseline"][key] = _rate([same(baseline[i][field], str(votes[i])) for i in items])
        # leave one out: each human against the other two where those two agree
        loo: dict[str, list[bool]] = {"human": [], "sanji": [], "baseline": []}
        for h in names:
            others = [o for o in names if o != h]
            for i in ids:
                a, b = (humans[o][i][field] for o in others)
                if not same(a, b):
                    continue
                loo["human"].append(same(humans[h][i][field], a))
                loo["sanji"].append(agree.sanji(field, drafts[i], a))
                loo["baseline"].append(same(baseline[i][field], a))
        f["leave_one_out"] = {k: _rate(v) for k, v in loo.items()}
        out[field] = f
    return out


def _readers(paths: Sequence[Path]) -> dict[str, Labels]:
    out: dict[str, Labels] = {}
    for path in paths:
        rows = _jsonl(path)
        out[path.stem] = {str(r["id"]): {k: str(r[k]) for k in FIELDS} for r in rows}
    return out


def _baseline(train: Sequence[dict[str, Any]], test: Sequence[dict[str, Any]]) -> Labels:
    def text(r: dict[str, Any]) -> str:
        return f"{r['text']} {r.get('address') or ''}".strip()

    x_train, x_test = [text(r) for r in train], [text(r) for r in test]
    predicted: dict[str, list[str]] = {}
    for field in FIELDS:
        model = fitted(x_train, list(train), field)
        predicted[field] = [str(p) for p in model.predict(x_test)]
    return {
        str(r["id"]): {field: predicted[field][n] for field in FIELDS} for n, r in enumerate(test)
    }


def run(
    sets: Sequence[Path],
    predictions: Sequence[Path],
    readers: Sequence[Path],
    type_map: Path,
    baseline_train: Path | None = None,
) -> dict[str, Any]:
    if len(sets) != len(predictions) or len(sets) < 2:
        raise SystemExit("每个 --set 需要一个 --predictions，且至少两个数据集（基线用另一个训练）")
    if len(readers) != 2:
        raise SystemExit("需要恰好两位复核标注人（--readers 两次）：留一法比较另外两人一致的事件")
    k = default_knowledge()
    agree = Agreement(load_type_map(type_map, k))
    others = _readers(readers)
    rows = [_jsonl(p) for p in sets]
    result: dict[str, Any] = {}
    cases = rows_of(baseline_train)[1] if baseline_train else None
    for n, (path, pred) in enumerate(zip(sets, predictions, strict=True)):
        train = cases or [r for m, rs in enumerate(rows) if m != n for r in rs]
        ids = [str(r["id"]) for r in rows[n]]
        humans: dict[str, Labels] = {
            "writer": {str(r["id"]): {f: str(r["gold"][f]) for f in FIELDS} for r in rows[n]}
        }
        for name, labels in others.items():
            missing = [i for i in ids if i not in labels]
            if missing:
                raise SystemExit(f"{name} 缺少 {len(missing)} 条（{path.name}）")
            humans[name] = labels
        drafts = {str(x["id"]): x["draft"] for x in _jsonl(pred)}
        failed = [i for i in ids if "error" in drafts.get(i, {"error": 1})]
        if failed:
            raise SystemExit(f"{pred}：{len(failed)} 条没有草稿")
        result[path.name] = score_set(ids, humans, drafts, _baseline(train, rows[n]), agree)
    return result


def _print(result: dict[str, Any]) -> None:
    for name, r in result.items():
        print(f"\n== {name} ({r['events']} events)")
        for field in FIELDS:
            f = r[field]
            pairs = "  ".join(
                f"{p} {v['rate']:.1%}"
                + (f" (exact {v['exact']:.1%})" if "exact" in v else f" κ={v['kappa']:.2f}")
                for p, v in f["pairs"].items()
            )
            print(f"{field:8s} humans: {pairs}")
            for who in ("sanji", "baseline"):
                row = "  ".join(
                    f"{h} {v['rate']:.1%}"
                    + (f" (n={v['n']})" if h in ("majority", "unanimous") else "")
                    for h, v in f[who].items()
                )
                print(f"{'':8s} {who:8s}: {row}")
            loo = f["leave_one_out"]
            print(
                f"{'':8s} leave-one-out (n={loo['human']['n']}): human {loo['human']['rate']:.1%}"
                f"  sanji {loo['sanji']['rate']:.1%}  baseline {loo['baseline']['rate']:.1%}"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", type=Path, action="append", required=True)
    ap.add_argument("--predictions", type=Path, action="append", required=True)
    ap.add_argument("--readers", type=Path, action="append", default=[])
    ap.add_argument("--type-map", type=Path, required=True)
    ap.add_argument(
        "--baseline-train",
        type=Path,
        help="train the baseline on these rows (e.g. knowledge/data/labelled/cases.jsonl, the "
        "casebook's own cases) instead of the other set",
    )
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    result = run(args.set, args.predictions, args.readers, args.type_map, args.baseline_train)
    _print(result)
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1), "utf-8")


if __name__ == "__main__":
    main()
