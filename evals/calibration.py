"""Calibrating the shipped subtype classifier's confidence on real labelled messages, and
choosing the ``needs_human`` threshold on them.

The real set is labelled in a foreign taxonomy (the 7 TipDM first-level classes), so a
prediction counts as correct when its subtype maps (through the label map) to the gold class;
subtype-level correctness cannot be measured on it. The confidence is the one the intake agent
compares with its threshold: the probability of the top subtype.

1. A temperature scale (multiplying the model's own temperature, fitted on its training data)
   is fitted so that the top subtype's probability predicts correctness (binary log-loss); ECE
   before and after is measured out of fold (K folds of the real set, the scale fitted on the
   others).
2. The threshold minimises an explicit cost on the out-of-fold calibrated confidences: a wrong
   automatic classification costs ``cost_ratio`` officer checks (a returned order and a delay
   against one look by an officer); a case below the threshold costs one check.

``python -m evals.calibration … --write`` stores both, with the figures they were chosen from,
in ``knowledge/data/confidence.yaml``, which the classifier and the intake agent read."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sklearn.isotonic import IsotonicRegression
from sklearn.model_selection import StratifiedKFold

from agents.classifier import CONFIDENCE_FILE, SubtypeClassifier, _log_softmax, raw_scores
from evals.routing import Case, LabelSpace, expected_calibration_error, load_cases
from knowledge import Knowledge

SCALES = np.logspace(-1, 1.5, 51)
COST_RATIO = 3.0
THRESHOLDS = np.round(np.arange(0.0, 1.0, 0.01), 2)


def _probabilities(scores: np.ndarray, temperature: float) -> np.ndarray:
    return np.exp(_log_softmax(scores / temperature))


def fit_scale(scores: np.ndarray, temperature: float, correct: np.ndarray) -> float:
    """The scale of the temperature under which the top subtype's probability best predicts
    whether the case is right (binary log-loss; the ranking, hence correctness, is unchanged)."""
    ok = np.asarray(correct, dtype=float)
    best, chosen = np.inf, 1.0
    for s in SCALES:
        top = np.clip(_probabilities(scores, temperature * s).max(axis=1), 1e-6, 1 - 1e-6)
        loss = -np.mean(ok * np.log(top) + (1 - ok) * np.log(1 - top))
        if loss < best:
            best, chosen = loss, float(s)
    return chosen


def choose_threshold(
    confidence: Sequence[float], correct: Sequence[bool], cost_ratio: float = COST_RATIO
) -> dict[str, Any]:
    """The threshold with the least cost: errors accepted × cost_ratio + cases sent to a person
    (ties: the lower threshold); with the accepted share and accuracy at it."""
    c = np.asarray(confidence, dtype=float)
    ok = np.asarray(correct, dtype=bool)
    rows = []
    for t in THRESHOLDS:
        accepted = c >= t
        cost = cost_ratio * float((accepted & ~ok).sum()) + float((~accepted).sum())
        rows.append((cost / len(c), float(t), accepted))
    cost, threshold, accepted = min(rows, key=lambda r: (r[0], r[1]))
    return {
        "threshold": threshold,
        "cost_per_case": round(cost, 4),
        "accepted_share": round(float(accepted.mean()), 4),
        "accepted_accuracy": round(float(ok[accepted].mean()), 4) if accepted.any() else None,
        "accuracy_all": round(float(ok.mean()), 4),
        "cost_ratio": cost_ratio,
    }


def calibrate(
    clf: SubtypeClassifier, space: LabelSpace, cases: Sequence[Case], folds: int = 5
) -> dict[str, Any]:
    """ECE before and after (out of fold), the scale fitted on all cases, the threshold."""
    labels = sorted({c.label for c in cases})
    gold = np.array([labels.index(c.label) for c in cases])
    scores = raw_scores(clf, [c.text for c in cases])
    mass = np.zeros((len(clf.labels), len(labels)))
    for i, subtype in enumerate(clf.labels):
        mapped = space.of_subtype(subtype)
        if mapped in labels:
            mass[i, labels.index(mapped)] = 1.0
    base_t = clf.base_temperature

    def confident(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        top = mass[p.argmax(axis=1)]  # the top subtype's class (a zero row: mapped to none)
        predicted = np.where(top.max(axis=1) > 0, top.argmax(axis=1), -1)
        return p.max(axis=1), predicted == gold

    before_conf, correct = confident(_probabilities(scores, base_t))
    scaled = np.zeros(len(cases))
    isotonic = np.zeros(len(cases))
    scales = []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    for train, test in splitter.split(np.zeros(len(gold)), gold):
        s = fit_scale(scores[train], base_t, correct[train])
        scales.append(s)
        scaled[test] = _probabilities(scores[test], base_t * s).max(axis=1)
        xs, ys = fit_isotonic(before_conf[train], correct[train])
        isotonic[test] = np.interp(before_conf[test], xs, ys)
    ece = {
        "none": expected_calibration_error(before_conf.tolist(), correct.tolist()),
        "temperature": expected_calibration_error(scaled.tolist(), correct.tolist()),
        "isotonic": expected_calibration_error(isotonic.tolist(), correct.tolist()),
    }
    method = min(ece, key=lambda m: (ece[m], m != "none"))
    after = {"none": before_conf, "temperature": scaled, "isotonic": isotonic}[method]
    xs, ys = fit_isotonic(before_conf, correct)
    return {
        "cases": len(cases),
        "accuracy_first_level": round(float(correct.mean()), 4),
        "ece_out_of_fold": ece,
        "method": method,
        "mean_confidence_before": round(float(before_conf.mean()), 4),
        "mean_confidence_after": round(float(after.mean()), 4),
        "scale_per_fold": [round(s, 4) for s in scales],
        "temperature_scale": round(fit_scale(scores, base_t, correct), 4),
        "isotonic": {"x": [round(float(x), 4) for x in xs], "y": [round(float(y), 4) for y in ys]},
        "needs_human": choose_threshold(after.tolist(), correct.tolist()),
    }


def fit_isotonic(confidence: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Breakpoints of a non-decreasing map from raw confidence to the share of right cases."""
    # never 0 or 1: a handful of cases at either end proves neither certainty
    iso = IsotonicRegression(y_min=0.01, y_max=0.99, out_of_bounds="clip")
    iso.fit(confidence, correct.astype(float))
    return np.asarray(iso.X_thresholds_), np.asarray(iso.y_thresholds_)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    from agents.classifier import ensure_classifier
    from knowledge import default_knowledge

    ap = argparse.ArgumentParser(description="在真实标注留言上校准置信度并选择人工确认阈值")
    ap.add_argument("--dataset", type=Path, required=True)
    ap.add_argument("--join", type=Path, action="append", default=[])
    ap.add_argument("--on")
    ap.add_argument("--text-col", action="append", required=True)
    ap.add_argument("--label-col", required=True)
    ap.add_argument("--label-map", type=Path, required=True)
    ap.add_argument("--models", type=Path, default=Path("data/models"))
    ap.add_argument("--write", action="store_true", help="写入 knowledge/data/confidence.yaml")
    a = ap.parse_args(argv)
    k: Knowledge = default_knowledge()
    cases = load_cases(
        a.dataset, text_cols=a.text_col, label_col=a.label_col, joins=a.join, on=a.on
    )
    space = LabelSpace(k, "category", {c.label for c in cases}, a.label_map)
    clf = ensure_classifier(k, a.models)
    result = calibrate(clf, space, cases)
    result["dataset"] = a.dataset.name
    result["model"] = {"version": clf.version, "algorithm": clf.meta.get("algorithm")}
    print(yaml.safe_dump(result, allow_unicode=True, sort_keys=False))
    if a.write:
        doc: dict[str, Any] = {"method": result["method"]}
        if result["method"] == "temperature":
            doc["temperature_scale"] = result["temperature_scale"]
        if result["method"] == "isotonic":
            doc["isotonic"] = result.pop("isotonic")
        doc["needs_human_below"] = result["needs_human"]["threshold"]
        doc["chosen_from"] = result
        header = (
            "# Written by `python -m evals.calibration --write` (see evals/calibration.py): the\n"
            "# shipped classifier's confidence calibrated on real labelled messages, and the\n"
            "# needs_human threshold chosen on them. Figures only; no message text.\n"
        )
        CONFIDENCE_FILE.write_text(
            header + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8"
        )
    return result


if __name__ == "__main__":
    main()
