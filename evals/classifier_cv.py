"""Cross-validation of the offline classifier's training method on a labelled real-data sample.

The labels file holds only message ids and our subtype codes (no third-party text); the texts
are read from ``../shared/data`` at run time.

    python -m evals.classifier_cv --labels evals/datasets/tipdm-subtype-labels.csv \\
        --messages ../shared/data/citizen-messages/messages-with-official-replies.csv --folds 5
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import KFold, StratifiedKFold

from agents.classifier import SubtypeClassifier
from knowledge import default_knowledge


def load(labels: Path, messages: Path) -> tuple[list[str], list[str]]:
    with messages.open(encoding="utf-8-sig") as fh:
        rows = {r["留言编号"]: r for r in csv.DictReader(fh)}
    texts, codes = [], []
    with labels.open(encoding="utf-8-sig") as fh:
        for r in csv.DictReader(fh):
            m = rows.get(r["留言编号"])
            if m is None:
                continue
            body = re.sub(r"\s+", " ", f"{m['留言主题']}。{m['留言详情']}").strip()
            texts.append(body)
            codes.append(r["subtype"])
    return texts, codes


def cross_validate(
    texts: list[str], labels: list[str], folds: int = 5, seed: int = 0
) -> dict[str, Any]:
    k = default_knowledge()
    y = np.array(labels)
    counts = Counter(labels)
    splitter: Any = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    if min(counts.values()) < folds:
        splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
    predicted = np.empty(len(y), dtype=object)
    top3 = np.zeros(len(y), dtype=bool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # folds where a class has a single example
        for train, test in splitter.split(texts, y):
            train_y = [labels[i] for i in train]
            keep = [
                i for i in train if Counter(train_y)[labels[i]] >= 2
            ]  # the trainer needs two per class
            clf = SubtypeClassifier.train(
                k, [texts[i] for i in keep], [labels[i] for i in keep], source="cv"
            )
            for i in test:
                p = clf.predict(texts[i])
                predicted[i] = p.subtype
                top3[i] = labels[i] in [c for c, _ in p.alternatives]
    present = sorted(counts)
    return {
        "examples": len(y),
        "subtypes": len(counts),
        "folds": folds,
        "seed": seed,
        "accuracy": round(float(accuracy_score(y, predicted)), 4),
        "macro_f1": round(
            float(f1_score(y, predicted, labels=present, average="macro", zero_division=0)), 4
        ),
        "weighted_f1": round(
            float(f1_score(y, predicted, labels=present, average="weighted", zero_division=0)), 4
        ),
        "top3_accuracy": round(float(top3.mean()), 4),
        "largest_classes": counts.most_common(10),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description="cross-validate the offline classifier on labelled real data"
    )
    parser.add_argument("--labels", type=Path, required=True)
    parser.add_argument("--messages", type=Path, required=True)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    texts, labels = load(args.labels, args.messages)
    print(json.dumps(cross_validate(texts, labels, args.folds), ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
