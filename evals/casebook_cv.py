"""How the casebook's SVMs were tuned, on its own cases only: for the level, the lead type and
the urgency, each C of a grid is scored by cross-validation with folds grouped by writer (a new
writer's events, as Sanji meets them), training on both readings of every case (the writer's
and the blind second reader's, as ``agents/casebook.py`` trains) and scoring on the held-out
writers' cases where the two readings agree. The smallest C within half a point of the best is chosen
(a larger C costs training time at first use for no measurable gain); ``agents/casebook.py``
carries the chosen values. The independent golden sets are not read.

    python -m evals.casebook_cv [--cases knowledge/data/labelled/cases.jsonl]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import GroupKFold

from agents.casebook import CALIBRATION_FOLDS, CASES, _readings, _svm, case_text, read_cases
from knowledge import default_knowledge

GRID = (0.3, 1.0, 3.0, 10.0)
WITHIN = 0.005


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=Path, default=CASES)
    args = ap.parse_args()
    k = default_knowledge()
    cases = read_cases(args.cases)
    texts = [case_text(c["text"], c.get("address"), k) for c in cases]
    matrix = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True).fit_transform(
        texts
    )
    writers = np.array([str(c.get("writer") or c["id"]) for c in cases])
    for target, key, keep in (
        ("level", "level", lambda label: label is not None),
        ("lead", "lead_type", lambda label: label in k.department_types),
        ("urgency", "urgency", lambda label: label is not None),
    ):
        rows, labels, weights = _readings(cases, key, keep)
        # the cases both readers labelled alike: one row of weight 2
        agreed = {int(n): str(y) for n, y, w in zip(rows, labels, weights, strict=True) if w == 2}
        scores: dict[float, float] = {}
        for c in GRID:
            right, started = [], time.perf_counter()
            for train, test in GroupKFold(CALIBRATION_FOLDS).split(texts, groups=writers):
                fit = np.isin(rows, train)
                svm = _svm(c).fit(matrix[rows[fit]], labels[fit], sample_weight=weights[fit])
                held = [n for n in test if int(n) in agreed]
                if not held:
                    continue
                predicted = svm.predict(matrix[held])
                right += [p == agreed[int(n)] for p, n in zip(predicted, held, strict=True)]
            scores[c] = float(np.mean(right))
            took = (time.perf_counter() - started) / CALIBRATION_FOLDS
            print(
                f"{target:7s} C={c:<4g} held-out writers, agreed cases: {scores[c]:.3f} "
                f"({len(right)} verdicts; {took:.2f} s a fit)"
            )
        best = max(scores.values())
        chosen = min(c for c, s in scores.items() if s >= best - WITHIN)
        print(f"{target:7s} chosen C={chosen:g} (best {best:.3f})")


if __name__ == "__main__":
    main()
