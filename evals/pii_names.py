"""Precision and recall of person-name masking (``tools.pii.name_spans``) on a hand-written set.

Each line of ``evals/datasets/pii-names.jsonl`` is ``{"text": …, "names": [...]}``: the names
are the exact substrings that should be masked, in order of appearance (the surname alone in
王先生 or 李某某). A predicted span counts when it matches a gold span exactly.

    python -m evals.pii_names [dataset.jsonl …]

``pii-names.jsonl`` was written alongside the patterns; ``pii-names-heldout.jsonl`` after they
were fixed, and is the fairer figure."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from evals.errors import DatasetError
from evals.tables import numbered_rows
from tools.pii import name_spans

DATASETS = Path(__file__).parent / "datasets"
DATASET = DATASETS / "pii-names.jsonl"
HELDOUT = DATASETS / "pii-names-heldout.jsonl"


@dataclass
class NameScores:
    sentences: int = 0
    gold: int = 0
    predicted: int = 0
    correct: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.gold if self.gold else 1.0


def gold_spans(text: str, names: list[str], where: str) -> set[tuple[int, int]]:
    spans, at = set(), 0
    for name in names:
        start = text.find(name, at)
        if start < 0:
            raise DatasetError(f"{where}: 「{name}」 不在句子中（或顺序不对）")
        spans.add((start, start + len(name)))
        at = start + len(name)
    return spans


def evaluate(path: Path = DATASET) -> NameScores:
    scores = NameScores()
    for n, row in numbered_rows(path):
        gold = gold_spans(row["text"], row["names"], f"{path.name}:{n}")
        found = set(name_spans(row["text"]))
        scores.sentences += 1
        scores.gold += len(gold)
        scores.predicted += len(found)
        scores.correct += len(gold & found)
        if gold != found:
            got = [row["text"][a:b] for a, b in sorted(found)]
            scores.misses.append(f"{n}: {row['text']} — 应为 {row['names']}，实为 {got}")
    return scores


def main(argv: list[str] | None = None) -> None:
    for path in [Path(a) for a in (argv or sys.argv[1:])] or [DATASET, HELDOUT]:
        s = evaluate(path)
        print(
            f"{path.name}: {s.sentences} 句，{s.gold} 个姓名，标出 {s.predicted} 处，正确 {s.correct} 处"
        )
        print(f"  precision {s.precision:.3f}  recall {s.recall:.3f}")
        for miss in s.misses:
            print("    " + miss)


if __name__ == "__main__":
    main()
