"""Fit the regulation re-ranker (``knowledge/data/reranker.json``) on a question set.

    python -m evals.fit_reranker --train evals/datasets/retrieval-dev.jsonl \
        --check evals/datasets/retrieval-test.jsonl

Needs an index built over the corpus the questions are about (``sanji index build``). Prints
the k-fold cross-validated figures on the training set and the figures on the held-out set,
beside plain reciprocal-rank fusion, then writes the model fitted on the whole training set."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from evals.retrieval import Question, load_dataset
from knowledge.regindex import Candidates, RegulationIndex
from knowledge.rerank import RERANKER_FILE, Reranker


def prepare(
    index: RegulationIndex, questions: list[Question]
) -> list[tuple[Question, Candidates, np.ndarray]]:
    out = []
    for q in questions:
        c = index.candidates(q.question)
        labels = np.array(
            [(index.units[i].title, index.units[i].article) in q.answers for i in c.ids]
        )
        out.append((q, c, labels))
    return out


def recall(
    prepared: list[tuple[Question, Candidates, np.ndarray]], model: Reranker | None
) -> dict[str, float]:
    ranks = []
    for _, c, labels in prepared:
        scores = model.score(c.rows) if model is not None else c.fused
        order = np.argsort(-scores, kind="stable")
        hit = np.nonzero(labels[order])[0]
        ranks.append(int(hit[0]) + 1 if len(hit) else None)
    n = len(ranks)
    out = {f"recall@{k}": round(sum(1 for r in ranks if r and r <= k) / n, 4) for k in (1, 5, 10)}
    out["mrr"] = round(sum(1 / r for r in ranks if r) / n, 4)
    return out


def cross_validate(
    prepared: list[tuple[Question, Candidates, np.ndarray]], folds: int, c: float
) -> dict[str, float]:
    """Each question scored by a model fitted without its fold; figures over all questions."""
    scored: list[tuple[Question, Candidates, np.ndarray]] = []
    for f in range(folds):
        train = [p for n, p in enumerate(prepared) if n % folds != f]
        model = Reranker.fit([p[1].rows for p in train], [p[2] for p in train], c=c)
        for n, (q, cand, labels) in enumerate(prepared):
            if n % folds == f:
                rescored = Candidates(
                    cand.ids, cand.rows, model.score(cand.rows), cand.lexical, cand.dense
                )
                scored.append((q, rescored, labels))
    return recall(scored, None)


def main(argv: list[str] | None = None) -> None:
    from knowledge.regindex import open_index
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

    s = Settings()
    index = open_index(
        s.data_dir, s.resolved_chroma_path, str(s.chroma_url) if s.chroma_url else None
    )
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
