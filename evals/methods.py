"""The training methods of the routing harness (``--train`` and ``--cv K``): ours (the shipped
training method, with the knowledge prior when the labels are our codes or mapped to them) and
the strong plain baseline (``evals.baselines``), fitted and cross-validated on the same fixed,
stratified folds."""

from __future__ import annotations

import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedKFold

from agents.classifier import _log_softmax, knowledge_prior, load_builtin, training_pipeline
from evals.baselines import StrongBaseline
from evals.errors import DatasetError
from evals.routing import SEED, Case, LabelSpace, Method, Prediction
from knowledge import Knowledge


def pipeline(method: Method, n_min: int) -> Any:
    """The shipped training method (``agents.classifier.training_pipeline``) or the strong
    plain baseline (``evals.baselines.StrongBaseline``: char 1–3-gram TF-IDF + LinearSVC, C
    and class weight chosen by inner CV on the training data; it reads no unlabelled
    texts)."""
    if method == "baseline":
        return StrongBaseline()
    return training_pipeline(n_min)


def prior_for(k: Knowledge, space: LabelSpace) -> tuple[list[str], list[str]]:
    """Our method adds the knowledge (each subtype's phrasings, name, description and
    keywords) as training documents, labelled in the dataset's label space."""
    if space.target != "category" or space.granularity == "own":
        return [], []
    xs, ys = knowledge_prior(k)
    shipped_x, shipped_y = load_builtin()
    xs, ys = [*xs, *shipped_x], [*ys, *shipped_y]
    out_x, out_y = [], []
    for x, y in zip(xs, ys, strict=True):
        label = space.of_subtype(y)
        if label is not None:
            out_x.append(x)
            out_y.append(label)
    return out_x, out_y


def fit_predict(
    method: Method,
    k: Knowledge,
    space: LabelSpace,
    train: Sequence[Case],
    test: Sequence[Case],
    notes: list[dict[str, Any]] | None = None,
    unlabelled: Sequence[str] = (),
) -> list[Prediction]:
    """Fit ``method`` on ``train`` and predict ``test``; what the fit chose (the baseline's C,
    our temperature) is appended to ``notes``. Our method fits its topics on ``unlabelled``
    texts too, less every text of ``test``: the test texts are never seen in training, not
    even without their labels."""
    xs, ys = [c.text for c in train], [c.label for c in train]
    if method == "sanji":
        px, py = prior_for(k, space)
        known = set(ys)
        xs, ys = (
            xs + [x for x, y in zip(px, py, strict=True) if y in known],
            ys + [y for y in py if y in known],
        )
    counts = Counter(ys)
    if len(counts) < 2:
        raise DatasetError("训练数据至少需要两个类别")
    tested = {c.text for c in test}
    extra = [t for t in unlabelled if t not in tested] if method == "sanji" else []
    model = pipeline(method, min(counts.values()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # classes thinner than the calibration folds
        model.fit(xs, ys, **({"tfidf__unlabelled": extra} if extra else {}))
    if notes is not None:
        notes.append(fit_notes(model, len(xs), len(test)))
        if extra:
            notes[-1]["unlabelled"] = len(extra)
    out = []
    for case in test:
        started = time.perf_counter()
        if method == "sanji":
            proba = model.predict_proba([case.text])[0]
            order = np.argsort(-proba)[:3]
            classes = model.classes_
            top = [str(classes[i]) for i in order]
            confidence: float | None = round(float(proba[order[0]]), 4)
            raw = model[-1].scores(model[:-1].transform([case.text]))
            raw_confidence: float | None = round(float(np.exp(_log_softmax(raw)).max()), 4)
        else:
            scores = model.decision_function([case.text])[0]
            order = np.argsort(-scores)[:3]
            top = [str(model.classes_[i]) for i in order]
            confidence = raw_confidence = None
        out.append(
            Prediction(
                label=top[0],
                top=top,
                confidence=confidence,
                raw_confidence=raw_confidence,
                latency_ms=round((time.perf_counter() - started) * 1000, 2),
            )
        )
    return out


def fit_notes(model: Any, n_train: int, n_test: int) -> dict[str, Any]:
    note: dict[str, Any] = {"train": n_train, "test": n_test}
    if isinstance(model, StrongBaseline):
        note["chosen"] = {k: v for k, v in model.chosen_.items() if k != "grid"}
        note["grid"] = model.chosen_["grid"]
    else:
        clf = model.named_steps["clf"]
        note["temperature"] = round(float(getattr(clf, "temperature_", 1.0)), 4)
    return note


def folds(cases: Sequence[Case], k: int, seed: int = SEED) -> list[tuple[list[int], list[int]]]:
    """Stratified folds with a fixed seed: the same folds for every method on the same data.
    Classes with fewer members than folds are kept in the training side only."""
    labels = [c.label for c in cases]
    counts = Counter(labels)
    usable = [i for i, y in enumerate(labels) if counts[y] >= k]
    rare = [i for i, y in enumerate(labels) if counts[y] < k]
    if len({labels[i] for i in usable}) < 2:
        raise DatasetError(f"做 {k} 折交叉验证，至少两个类别需各有 {k} 条以上样本")
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    y = [labels[i] for i in usable]
    return [
        ([usable[i] for i in tr] + rare, [usable[i] for i in te])
        for tr, te in splitter.split(np.zeros(len(usable)), y)
    ]


def cross_validate(
    method: Method,
    k: Knowledge,
    space: LabelSpace,
    cases: Sequence[Case],
    splits: list[tuple[list[int], list[int]]],
    progress: Callable[[int], None] = lambda n: None,
    notes: list[dict[str, Any]] | None = None,
    unlabelled: Sequence[str] = (),
) -> tuple[list[Case], list[Prediction]]:
    """Fit and predict fold by fold; the tested cases come back in fold order."""
    tested: list[Case] = []
    predictions: list[Prediction] = []
    for n, (train, test) in enumerate(splits, start=1):
        predictions += fit_predict(
            method,
            k,
            space,
            [cases[i] for i in train],
            [cases[i] for i in test],
            notes,
            unlabelled,
        )
        tested += [cases[i] for i in test]
        progress(n)
    return tested, predictions
