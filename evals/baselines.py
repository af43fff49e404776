"""The strong plain baseline of the routing harness, and the paired comparison against it.

Baseline: character 1–3-gram TF-IDF (analyzer ``char``, sublinear tf) and a LinearSVC whose
C and class weight are chosen by an inner stratified 5-fold CV (macro-F1) on the training
texts only. The vectorizer is fitted on the training texts (it sees no labels and never the
test fold); the inner CV then chooses among the grid. Every choice is recorded in
``chosen_``, so a run can show what each outer fold picked."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, cross_val_predict
from sklearn.svm import LinearSVC

GRID_C = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
# None suits a balanced set, "balanced" a skewed one; the inner CV decides per training fold
GRID_WEIGHT: tuple[str | None, ...] = (None, "balanced")
INNER_FOLDS = 5


class StrongBaseline(ClassifierMixin, BaseEstimator):
    """Char 1–3-gram TF-IDF + LinearSVC, (C, class_weight) by inner CV on the training data."""

    def __init__(self, inner_folds: int = INNER_FOLDS, seed: int = 0) -> None:
        self.inner_folds = inner_folds
        self.seed = seed

    def fit(
        self, X: Sequence[str], y: Sequence[str], groups: Sequence[str] | None = None
    ) -> StrongBaseline:
        """``groups``: rows that are one item read twice (the same text with two readers'
        labels) share a group and are never split across the inner folds."""
        labels = np.asarray(y)
        self.vectorizer_ = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
        features = self.vectorizer_.fit_transform(list(X))
        thinnest = min(Counter(labels.tolist()).values())
        n_splits = min(self.inner_folds, thinnest)
        scores: dict[str, float] = {}
        best: tuple[float, float, str | None] = (-1.0, 1.0, None)
        if n_splits >= 2:
            inner = (
                StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=self.seed)
                if groups is None
                else StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=self.seed)
            )
            for weight in GRID_WEIGHT:
                for c in GRID_C:
                    svm = LinearSVC(C=c, class_weight=weight)
                    predicted = cross_val_predict(svm, features, labels, cv=inner, groups=groups)
                    score = float(f1_score(labels, predicted, average="macro", zero_division=0))
                    scores[f"C={c:g},class_weight={weight}"] = round(score, 4)
                    if score > best[0] + 1e-9:  # ties keep the earlier (smaller C, unweighted)
                        best = (score, c, weight)
        self.chosen_: dict[str, Any] = {
            "C": best[1],
            "class_weight": best[2],
            "inner_folds": n_splits if n_splits >= 2 else 0,
            "inner_macro_f1": round(best[0], 4) if scores else None,
            "grid": scores,
        }
        self.svm_ = LinearSVC(C=best[1], class_weight=best[2]).fit(features, labels)
        self.classes_ = self.svm_.classes_
        return self

    def decision_function(self, X: Sequence[str]) -> np.ndarray:
        return np.asarray(self.svm_.decision_function(self.vectorizer_.transform(list(X))))

    def predict(self, X: Sequence[str]) -> np.ndarray:
        return np.asarray(self.classes_[np.argmax(self.decision_function(X), axis=1)])


def paired(ours: Sequence[float], theirs: Sequence[float]) -> dict[str, Any]:
    """Per-fold gains of our method over the baseline: mean ± std and folds won."""
    gains = [a - b for a, b in zip(ours, theirs, strict=True)]
    return {
        "per_fold": [round(g, 4) for g in gains],
        "mean": round(statistics.fmean(gains), 4),
        "std": round(statistics.pstdev(gains), 4) if len(gains) > 1 else 0.0,
        "ours_mean": round(statistics.fmean(ours), 4),
        "ours_std": round(statistics.pstdev(ours), 4) if len(ours) > 1 else 0.0,
        "baseline_mean": round(statistics.fmean(theirs), 4),
        "baseline_std": round(statistics.pstdev(theirs), 4) if len(theirs) > 1 else 0.0,
        "wins": sum(1 for g in gains if g > 0),
        "ties": sum(1 for g in gains if g == 0),
        "folds": len(gains),
    }
