"""The strong plain baseline on the independent golden sets: char 1–3-gram TF-IDF + LinearSVC
(``evals.baselines.StrongBaseline``, C and class weight by inner CV) trained on one set's
texts (text and address) to predict its writer's level, lead type and urgency, and scored on
another set in the same vocabulary. It answers: does Sanji decide better than a plain text
classifier that has seen a few hundred labelled events of the same kind?

    python -m evals.typed_baseline \\
        --train evals/datasets/independent/independent-golden.jsonl \\
        --test evals/datasets/independent-2/independent-golden-2.jsonl

``--train knowledge/data/labelled/cases.jsonl`` trains it on the casebook's cases instead (every
reading of each case, the two readings of a case in one inner fold): the plain baseline beside
the casebook, on the same training rows.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from evals.baselines import StrongBaseline

FIELDS = ("level", "lead", "urgency")


def rows_of(path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    """A golden set's rows, or the casebook's cases: one row for each reading of a case (its
    writer's labels, and its blind second reader's where it has one), as the casebook learns."""
    rows = []
    for line in path.read_text("utf-8").splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        if "gold" in r:
            rows.append(r)
            continue
        # knowledge/data/labelled/cases.jsonl
        for reading in (r, r.get("reader")):
            if reading:
                gold = {f: reading[f] for f in ("level", "urgency")} | {
                    "lead": reading["their_lead"]
                }
                rows.append({**r, "gold": gold})
    return [f"{r['text']} {r.get('address') or ''}".strip() for r in rows], rows


def fitted(x: list[str], rows: list[dict[str, Any]], field: str) -> StrongBaseline:
    """The baseline for ``field``, the readings of one case kept in one inner fold."""
    return StrongBaseline().fit(x, [r["gold"][field] for r in rows], [str(r["id"]) for r in rows])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", type=Path, required=True)
    ap.add_argument("--test", type=Path, required=True)
    args = ap.parse_args()
    train_x, train_rows = rows_of(args.train)
    test_x, test_rows = rows_of(args.test)
    for field in FIELDS:
        model = fitted(train_x, train_rows, field)
        gold = np.array([r["gold"][field] for r in test_rows])
        accuracy = float((model.predict(test_x) == gold).mean())
        print(f"{field:8s} accuracy {accuracy:.3f} ({len(test_rows)} events)")


if __name__ == "__main__":
    main()
