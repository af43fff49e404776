"""Fit the regulation re-ranker (``knowledge/data/reranker.json``) on a question set.

    python -m evals.fit_reranker --train evals/datasets/retrieval-dev.jsonl \
        --check evals/datasets/retrieval-test.jsonl

Needs an index built over the corpus the questions are about (``sanji index build``). Prints
the k-fold cross-validated figures on the training set and the figures on the held-out set,
beside plain reciprocal-rank fusion, then writes the model fitted on the whole training set."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np

from evals.retrieval import Question, load_dataset, rank_metrics
from knowledge.retrieval import RegulationIndex
from knowledge.retrieval.fusion import Candidates
from knowledge.retrieval.rerank import RERANKER_FILE, Reranker

Prepared = list[tuple[Question, Candidates, np.ndarray]]


def prepare(index: RegulationIndex, questions: list[Question]) -> Prepared:
    out = []
    for q in questions:
        c = index.candidates(q.question)
        labels = np.array(
            [(index.units[i].title, index.units[i].article) in q.answers for i in c.ids]
        )
        out.append((q, c, labels))
    return out


def _rank(scores: np.ndarray, labels: np.ndarray) -> int | None:
    hit = np.nonzero(labels[np.argsort(-scores, kind="stable")])[0]
    return int(hit[0]) + 1 if len(hit) else None


def recall(prepared: Prepared, model: Reranker | None) -> dict[str, float]:
    """Figures of the model's order of the candidates (the fused order without a model)."""
    score: Callable[[Candidates], np.ndarray] = (
        (lambda c: model.score(c.rows)) if model is not None else (lambda c: c.fused)
    )
    return rank_metrics([_rank(score(c), labels) for _, c, labels in prepared])


def cross_validate(prepared: Prepared, folds: int, c: float) -> dict[str, float]:
    """Each question scored by a model fitted without its fold; figures over all questions."""
    ranks = []
    for f in range(folds):
        train = [p for n, p in enumerate(prepared) if n % folds != f]
        model = Reranker.fit([p[1].rows for p in train], [p[2] for p in train], c=c)
        ranks += [_rank(model.score(p[1].rows), p[2]) for p in prepared[f::folds]]
    return rank_metrics(ranks)


def main(argv: list[str] | None = None) -> None:
    from agents.runtime import open_configured_index
    from settings import Settings

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=Path, action="append", required=True, help="repeatable")
    ap.add_argument(
        "--check", type=Path, action="append", default=[], help="held-out sets, never fitted on"
    )
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--c", type=float, default=0.3, help="inverse regularisation strength")
    ap.add_argument("--out", type=Path, default=RERANKER_FILE)
    args = ap.parse_args(argv)

    index = open_configured_index(Settings(), build_if_empty=False)
    if not index.units:
        raise SystemExit("索引为空：先运行 sanji index build --source …")
    train = [p for path in args.train for p in prepare(index, load_dataset(path))]
    names = "+".join(path.name for path in args.train)
    print(f"training set {names}: {len(train)} questions")
    print("  fused (no re-ranker)      ", recall(train, None))
    print(f"  re-ranked, {args.folds}-fold CV      ", cross_validate(train, args.folds, args.c))
    model = Reranker.fit(
        [p[1].rows for p in train], [p[2] for p in train], c=args.c, trained_on=names
    )
    for path in args.check:
        check = prepare(index, load_dataset(path))
        print(f"held-out set {path.name}: {len(check)} questions")
        print("  fused (no re-ranker)      ", recall(check, None))
        print("  re-ranked                 ", recall(check, model))
    args.out.write_text(model.to_json() + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    for name, w in sorted(zip(model.names, model.coef, strict=True), key=lambda x: -abs(x[1])):
        print(f"  {name:18s} {w:+.3f}")


if __name__ == "__main__":
    main()
