"""Experiment (#15): can the level be learned from labelled events, the rules' decision as a
feature, better than the rules alone and than a plain text classifier?

A linear SVM reads the text and address (char 1–3-gram TF-IDF) beside what Sanji's draft said
(subtype, category, lead type, level, urgency, assisting types, channel, needs_human), and is
trained on one independent set's gold levels (optionally with our own golden set), then scored
on another set; the strong plain baseline (``evals.baselines.StrongBaseline``, text only) is
trained on the same rows. Inputs are the ``predictions.jsonl`` files that ``sanji eval dispatch
--out DIR`` writes, beside their datasets (for channel and address).

    python -m evals.level_stack \\
        --train DIR1/predictions.jsonl=evals/datasets/independent/independent-golden.jsonl \\
        --test DIR2/predictions.jsonl=evals/datasets/independent-2/independent-golden-2.jsonl
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from evals.baselines import StrongBaseline


def load(spec: str) -> list[dict[str, Any]]:
    """``predictions.jsonl=dataset.jsonl``: each prediction with its row's channel and address."""
    pred, data = (Path(p) for p in spec.split("=", 1))
    rows = {
        r["id"]: r
        for r in (json.loads(x) for x in data.read_text("utf-8").splitlines() if x.strip())
    }
    out = []
    for line in pred.read_text("utf-8").splitlines():
        p = json.loads(line)
        r = rows[p["id"]]
        out.append({**p, "source": r.get("source"), "address": r.get("address")})
    return out


def _text(r: dict[str, Any]) -> str:
    return f"{r['text']} {r.get('address') or ''}".strip()


def _draft(r: dict[str, Any]) -> dict[str, float]:
    d = r["draft"]
    f = {
        f"subtype={d.get('subtype')}": 1.0,
        f"category={str(d.get('subtype'))[:2]}": 1.0,
        f"lead={d.get('lead_type')}": 1.0,
        f"level={d.get('level')}": 1.0,
        f"urgency={d.get('urgency')}": 1.0,
        f"source={r.get('source')}": 1.0,
    }
    f.update({f"assist={a.split('.', 1)[1]}": 1.0 for a in d.get("assisting", [])})
    if d.get("needs_human"):
        f["needs_human"] = 1.0
    return f


def stacked(train: list[dict[str, Any]], test: list[dict[str, Any]]) -> np.ndarray:
    tfidf = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
    dv = DictVectorizer()
    x = sparse.hstack(
        [tfidf.fit_transform(map(_text, train)), dv.fit_transform(map(_draft, train))]
    )
    y = [r["gold"]["level"] for r in train]
    model = LinearSVC(C=1.0).fit(x.tocsr(), y)
    return np.asarray(
        model.predict(
            sparse.hstack(
                [tfidf.transform(map(_text, test)), dv.transform(map(_draft, test))]
            ).tocsr()
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", action="append", required=True, help="predictions=dataset")
    ap.add_argument("--test", required=True, help="predictions=dataset")
    args = ap.parse_args()
    train = [r for spec in args.train for r in load(spec)]
    test = load(args.test)
    gold = np.array([r["gold"]["level"] for r in test])
    rules = np.array([r["draft"]["level"] for r in test])
    baseline = StrongBaseline().fit(list(map(_text, train)), [r["gold"]["level"] for r in train])
    for name, predicted in (
        ("Sanji's rules", rules),
        ("rules + text, learned", stacked(train, test)),
        ("strong plain baseline", baseline.predict(list(map(_text, test)))),
    ):
        print(
            f"{name:24s} level accuracy {float((predicted == gold).mean()):.3f} ({len(test)} events)"
        )


if __name__ == "__main__":
    main()
