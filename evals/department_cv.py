"""Cross-validated department routing on the weak labels read from the government's replies
(``evals.reply_units``): which department type, and which level, handles a real message.

Two methods on the same folds (5-fold stratified, seed 0):

- ``baseline``: a strong plain one — character 1–3-gram TF-IDF (sublinear tf) and a linear SVM
  whose C is chosen by an inner 3-fold CV on the training folds only (macro-F1);
- ``shipped``: the classifier's own training method, ``agents.classifier.training_pipeline``,
  fitted on the training folds' messages alone (department types are not subtypes, so the
  knowledge prior does not apply).

Department types with fewer than ``--min-examples`` labels are merged into ``other``; messages
whose level the reply does not tell are left out of the level target. The outputs hold ids,
labels and predictions only, never the messages' texts.

    python -m evals.department_cv --labels evals/datasets/reply-department-labels.csv \\
        --messages ../shared/data/citizen-messages/messages-with-official-replies.csv --out DIR
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from agents.classifier import training_pipeline
from evals.errors import DatasetError
from evals.harness import names_for
from evals.report import confusion_png
from evals.tables import read_table
from knowledge import default_knowledge

OTHER = "other"
C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)  # the first run (0.03–3) chose its top, 3, in every fold


def load(labels: Path, messages: Path) -> list[dict[str, str]]:
    """One row per labelled message: id, text (subject and body), department type, level."""
    texts = {
        str(r["留言编号"]): re.sub(r"\s+", " ", f"{r['留言主题']}。{r['留言详情']}").strip()
        for r in read_table(messages)
    }
    rows = []
    for r in read_table(labels):
        key = str(r["留言编号"])
        if key in texts:
            rows.append(
                {
                    "id": key,
                    "text": texts[key],
                    "department_type": str(r["department_type"]),
                    "level": str(r.get("level") or ""),
                }
            )
    if not rows:
        raise DatasetError("标签文件中的留言编号在留言文件中一个也找不到")
    return rows


def merge_rare(labels: list[str], min_examples: int) -> tuple[list[str], list[str]]:
    """Labels with rare types replaced by ``other``, and the merged types."""
    counts = Counter(labels)
    rare = sorted(t for t, n in counts.items() if n < min_examples)
    return [OTHER if y in rare else y for y in labels], rare


def baseline(train_x: list[str], train_y: list[str]) -> Any:
    """Char 1–3-gram TF-IDF + LinearSVC, C chosen on the training folds only."""
    pipe = Pipeline(
        [
            ("tfidf", TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)),
            ("clf", LinearSVC()),
        ]
    )
    inner = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    search = GridSearchCV(pipe, {"clf__C": list(C_GRID)}, cv=inner, scoring="f1_macro")
    return search.fit(train_x, train_y)


def shipped(train_x: list[str], train_y: list[str]) -> Any:
    n_min = min(Counter(train_y).values())
    return training_pipeline(n_min).fit(train_x, train_y)


METHODS: dict[str, Callable[[list[str], list[str]], Any]] = {
    "baseline": baseline,
    "shipped": shipped,
}


def cross_validate(
    texts: list[str], labels: list[str], folds: int = 5, seed: int = 0
) -> dict[str, Any]:
    """Out-of-fold predictions of every method on the same folds, and their scores."""
    y = np.array(labels)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    predicted = {m: np.empty(len(y), dtype=object) for m in METHODS}
    chosen_c: list[float] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # liblinear convergence notes on tiny inner folds
        for train, test in splitter.split(texts, y):
            tx, ty = [texts[i] for i in train], [labels[i] for i in train]
            for name, fit in METHODS.items():
                model = fit(tx, ty)
                if name == "baseline":
                    chosen_c.append(float(model.best_params_["clf__C"]))
                predicted[name][test] = model.predict([texts[i] for i in test])
    classes = sorted(set(labels))
    out: dict[str, Any] = {"examples": len(y), "folds": folds, "seed": seed, "classes": classes}
    out["support"] = dict(Counter(labels).most_common())
    for name, pred in predicted.items():
        per = f1_score(y, pred, labels=classes, average=None, zero_division=0)
        out[name] = {
            "accuracy": round(float(accuracy_score(y, pred)), 4),
            "macro_f1": round(
                float(f1_score(y, pred, labels=classes, average="macro", zero_division=0)), 4
            ),
            "per_class_f1": {c: round(float(f), 4) for c, f in zip(classes, per, strict=True)},
            "predicted": [str(p) for p in pred],
        }
    out["baseline"]["chosen_C"] = chosen_c
    return out


def write(out: Path, target: str, ids: list[str], gold: list[str], result: dict[str, Any]) -> None:
    """Confusion matrices (CSV and PNG) and out-of-fold predictions of every method."""
    k = default_knowledge()
    names = {
        c: re.sub(r"\{\w+\}", "", n)
        for c, n in names_for(k, "level" if target == "level" else "department").items()
    }
    names |= {OTHER: "其他（合并）", "street_office": "街道办事处/乡镇政府"}
    classes = result["classes"]
    for method in METHODS:
        pred = result[method]["predicted"]
        matrix = confusion_matrix(gold, pred, labels=classes)
        with (out / f"{target}-{method}-confusion.csv").open(
            "w", encoding="utf-8", newline=""
        ) as fh:
            w = csv.writer(fh)
            w.writerow(["gold \\ predicted", *classes])
            for c, line in zip(classes, matrix, strict=True):
                w.writerow([c, *line.tolist()])
        confusion_png(out / f"{target}-{method}-confusion.png", classes, matrix, names)
    with (out / f"{target}-predictions.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["留言编号", "gold", *METHODS])
        for i, key in enumerate(ids):
            w.writerow([key, gold[i], *(result[m]["predicted"][i] for m in METHODS)])


def run(labels: Path, messages: Path, out: Path, min_examples: int = 15) -> dict[str, Any]:
    rows = load(labels, messages)
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"labels": str(labels), "min_examples": min_examples}
    types, rare = merge_rare([r["department_type"] for r in rows], min_examples)
    targets = {
        "department_type": ([r["id"] for r in rows], [r["text"] for r in rows], types),
        "level": tuple(
            list(x)
            for x in zip(
                *((r["id"], r["text"], r["level"]) for r in rows if r["level"]), strict=True
            )
        ),
    }
    report["merged_into_other"] = rare
    for target, (ids, texts, gold) in targets.items():
        result = cross_validate(list(texts), list(gold))
        write(out, target, list(ids), list(gold), result)
        report[target] = {
            key: ({k: v for k, v in val.items() if k != "predicted"} if key in METHODS else val)
            for key, val in result.items()
        }
    (out / "metrics.json").write_text(
        json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description="在答复提取的部门标签上交叉验证部门和层级分派")
    parser.add_argument("--labels", type=Path, required=True)
    parser.add_argument("--messages", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--min-examples", type=int, default=15, help="少于此数的类型并入 other")
    args = parser.parse_args()
    report = run(args.labels, args.messages, args.out, args.min_examples)
    for target in ("department_type", "level"):
        r = report[target]
        print(
            json.dumps(
                {
                    "target": target,
                    "examples": r["examples"],
                    **{
                        m: {"accuracy": r[m]["accuracy"], "macro_f1": r[m]["macro_f1"]}
                        for m in METHODS
                    },
                },
                ensure_ascii=False,
            )
        )


if __name__ == "__main__":
    main()
