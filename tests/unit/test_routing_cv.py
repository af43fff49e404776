"""Cross-validation on a dataset's own labels, and the strong baseline's inner choice of C
(made on the training texts only). Small made-up datasets: fast, no shared data."""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.svm import LinearSVC

from evals.baselines import GRID_C, StrongBaseline, paired
from evals.errors import DatasetError
from evals.harness import RoutingArgs, run_routing
from evals.methods import fit_predict, folds
from evals.routing import Case, LabelSpace, load_unlabelled
from knowledge import Knowledge

TOPICS = {
    "噪声扰民": ["工地夜里打桩", "广场舞音响太吵", "酒吧音乐震耳", "楼上装修电钻"],
    "道路交通": ["公交车站牌损坏", "红绿灯时间太短", "路口经常堵车", "占道停车挡路"],
    "教育问题": ["学校乱收补课费", "幼儿园学位紧张", "学生校服太贵", "老师体罚学生"],
}


def made_up(n_per_class: int = 12, seed: int = 1) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)
    rows = []
    for label, phrases in TOPICS.items():
        for i in range(n_per_class):
            a, b = rng.sample(phrases, 2)
            rows.append((f"{label}-{i}", f"{a}，{b}，希望有关部门处理（{i}）", label))
    return rows


def write(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text", "label"])
        w.writerows(rows)
    return path


def cv3(data: Path, out: Path, **extra: Any) -> RoutingArgs:
    """Three-fold CV of ``data``'s own labels with the baseline beside it."""
    return RoutingArgs(
        dataset=data,
        text_cols=["text"],
        label_col="label",
        id_col="id",
        cv=3,
        with_baseline=True,
        out=out,
        **extra,
    )


@pytest.mark.filterwarnings("ignore:Glyph")  # confusion.png on a machine without a CJK font
def test_cv_trains_and_tests_on_the_datasets_own_labels(
    tmp_path: Path, knowledge: Knowledge
) -> None:
    args = cv3(write(tmp_path / "own.csv", made_up()), tmp_path / "out")
    run, _, predictions = run_routing(args, knowledge)
    assert run["dataset"]["label_space"] == "own"
    assert {p.label for p in predictions} <= set(TOPICS)
    assert run["metrics"]["macro_f1"] >= 0.8  # the topics are easy to tell apart
    assert len(run["folds"]) == 3 and all("baseline" in row for row in run["folds"])
    gain = run["gain_paired"]
    assert gain["folds"] == 3 and gain["per_fold"] == [r["gain"] for r in run["folds"]]
    assert (tmp_path / "out" / "metrics.json").exists()


def test_unlabelled_texts_reach_our_topics_but_never_a_test_folds_texts(
    tmp_path: Path, knowledge: Knowledge
) -> None:
    """``--unlabelled``: our method fits its topics on the file's texts too, less the texts of
    the fold under test; the baseline reads none of them."""
    rows = made_up()
    data = write(tmp_path / "own.csv", rows)
    extra = [(f"u{i}", f"附近工地夜里打桩，吵得睡不着（{i}）", "") for i in range(5)]
    pool = write(tmp_path / "pool.csv", [*rows, *extra, rows[0]])  # the labelled texts too
    run, _, _ = run_routing(cv3(data, tmp_path / "out", unlabelled=[pool]), knowledge)
    assert len(run["folds"]) == 3
    unique = len(rows) + len(extra)  # the repeated row counts once
    for row, (_, test) in zip(
        run["folds"], folds([Case(id=i, text=t, label=y) for i, t, y in rows], 3), strict=True
    ):
        assert row["sanji"]["unlabelled"] == unique - len(test)
        assert "unlabelled" not in row["baseline"]
    assert run["settings"]["unlabelled"] == [str(pool)]
    assert run["metrics"]["macro_f1"] >= 0.8
    with pytest.raises(DatasetError, match="没有文本列"):
        load_unlabelled([write(tmp_path / "other.csv", rows[:1])], ["正文"])


def test_own_labels_need_a_map_only_to_score_the_shipped_model(knowledge: Knowledge) -> None:
    with pytest.raises(DatasetError, match="--label-map"):
        LabelSpace(knowledge, "category", set(TOPICS), None)
    assert LabelSpace(knowledge, "category", set(TOPICS), None, trained=True).granularity == "own"
    codes = set(list(knowledge.subtypes)[:3])
    assert LabelSpace(knowledge, "category", codes, None, trained=True).granularity == "subtype"
    with pytest.raises(DatasetError, match="--cv"):
        LabelSpace(knowledge, "department", {"住建局"}, None)


def test_the_baseline_chooses_c_by_inner_cv_on_the_training_texts_only() -> None:
    rows = made_up(10)
    rng = random.Random(3)
    labels = [r[2] for r in rows]
    noisy = [rng.choice(list(TOPICS)) if rng.random() < 0.3 else y for y in labels]
    texts = [r[1] for r in rows]
    model = StrongBaseline().fit(texts, noisy)
    chosen = model.chosen_
    assert len(chosen["grid"]) == 2 * len(GRID_C)
    assert chosen["inner_macro_f1"] == max(chosen["grid"].values())
    # the recorded score of the chosen cell is reproduced from the training data alone
    features = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
    x = features.fit_transform(texts)
    inner = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    svm = LinearSVC(C=chosen["C"], class_weight=chosen["class_weight"])
    again = f1_score(noisy, cross_val_predict(svm, x, np.asarray(noisy), cv=inner), average="macro")
    assert round(float(again), 4) == chosen["inner_macro_f1"]
    # separable data: every C scores 1.0 and the tie keeps the smallest
    assert StrongBaseline().fit(texts, labels).chosen_["C"] == GRID_C[0]


def test_test_fold_labels_never_reach_the_baseline(knowledge: Knowledge) -> None:
    cases = [Case(id=i, text=t, label=y) for i, t, y in made_up(10)]
    space = LabelSpace(knowledge, "category", set(TOPICS), None, trained=True)
    train_idx, test_idx = folds(cases, 3)[0]
    train = [cases[i] for i in train_idx]
    test = [cases[i] for i in test_idx]
    scrambled = [Case(id=c.id, text=c.text, label="别的标签") for c in test]
    notes_a: list[dict[str, object]] = []
    notes_b: list[dict[str, object]] = []
    a = fit_predict("baseline", knowledge, space, train, test, notes_a)
    b = fit_predict("baseline", knowledge, space, train, scrambled, notes_b)
    assert [p.label for p in a] == [p.label for p in b]
    assert notes_a[0]["grid"] == notes_b[0]["grid"] and notes_a[0]["chosen"] == notes_b[0]["chosen"]


def test_paired_gains() -> None:
    g = paired([0.8, 0.7, 0.9], [0.75, 0.72, 0.85])
    assert g["per_fold"] == [0.05, -0.02, 0.05] and g["wins"] == 2 and g["folds"] == 3
    assert g["mean"] == pytest.approx(0.0267, abs=1e-4)


def test_the_baseline_keeps_the_readings_of_one_item_in_one_inner_fold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two readers' labels of one text are two rows: were they split across inner folds,
    each fold would be tested on texts it trained on, and the inner CV would favour a C that
    memorises."""
    from evals import baselines

    rows, ys, groups = [], [], []
    for n in range(40):
        text = f"第{n}号事件 {'路灯不亮' if n % 2 else '占道经营'}"
        rows += [text, text]
        ys += ["城管" if n % 2 else "执法"] * 2
        groups += [str(n), str(n)]
    seen: list[tuple[set[str], set[str]]] = []

    def spy(svm, x, y, cv, groups=None):  # type: ignore[no-untyped-def]
        for train, test in cv.split(x, y, groups):
            seen.append(({groups[i] for i in train}, {groups[i] for i in test}))
        return cross_val_predict(svm, x, y, cv=cv, groups=groups)

    monkeypatch.setattr(baselines, "cross_val_predict", spy)
    StrongBaseline().fit(rows, ys, groups)
    assert seen and all(not (train & test) for train, test in seen)
