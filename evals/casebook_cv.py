"""How the casebook's SVMs were tuned, on its own cases only: the strong baseline's inner
cross-validation (``evals.baselines.StrongBaseline``: C over 0.03–10, class weight none or
balanced, 5 stratified folds, macro-F1) run on ``cases.jsonl`` for the level, the lead type
and the urgency. Prints each target's choice and its cross-validated macro-F1 and accuracy;
``agents/casebook.py`` carries the chosen values. The independent golden sets are not read.

    python -m evals.casebook_cv [--cases knowledge/data/labelled/cases.jsonl]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.svm import LinearSVC

from agents.casebook import CASES, case_text, read_cases
from evals.baselines import StrongBaseline
from knowledge import default_knowledge


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=Path, default=CASES)
    args = ap.parse_args()
    k = default_knowledge()
    cases = read_cases(args.cases)
    for target in ("level", "lead_type", "urgency"):
        rows = [
            c
            for c in cases
            if c.get(target) and (target != "lead_type" or c[target] in k.department_types)
        ]
        texts = [case_text(c["text"], c.get("address"), k) for c in rows]
        labels = np.array([c[target] for c in rows])
        model = StrongBaseline().fit(texts, labels.tolist())
        chosen = model.chosen_
        features = model.vectorizer_.transform(texts)
        folds = StratifiedKFold(n_splits=chosen["inner_folds"], shuffle=True, random_state=1)
        svm = LinearSVC(C=chosen["C"], class_weight=chosen["class_weight"])
        accuracy = float((cross_val_predict(svm, features, labels, cv=folds) == labels).mean())
        print(
            f"{target:9s} {len(rows)} cases, {len(set(labels))} classes: C={chosen['C']:g} "
            f"class_weight={chosen['class_weight']} inner macro-F1 {chosen['inner_macro_f1']:.3f} "
            f"accuracy {accuracy:.3f}"
        )


if __name__ == "__main__":
    main()
