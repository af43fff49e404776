"""Department routing CV on our own tiny labelled set: same folds for both methods, rare types
merged, scores that reflect what was learnt."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from evals.department_cv import C_GRID, OTHER, cross_validate, merge_rare, run

PLACES = [
    "东湖",
    "西岭",
    "南坪",
    "北城",
    "石桥",
    "青山",
    "柳河",
    "白沙",
    "金竹",
    "红岩",
    "龙井",
    "梅林",
]
TOPICS = {
    "education": "{p}小学开学收取资料费，学生家长要求教育部门说明收费依据",
    "housing": "{p}小区电梯长期停运，物业不维修，请住建部门督促开发商整改",
    "traffic_police": "{p}路口红绿灯坏了，车辆乱闯，请交警来管一管交通秩序",
}


def _rows() -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for code, pattern in TOPICS.items():
        for p in PLACES:
            texts.append(pattern.format(p=p))
            labels.append(code)
    return texts, labels


def test_merge_rare_names_what_it_merged() -> None:
    merged, rare = merge_rare(["a"] * 5 + ["b"] * 2 + ["c"], 3)
    assert rare == ["b", "c"]
    assert merged.count(OTHER) == 3 and merged.count("a") == 5


def test_both_methods_learn_separable_departments() -> None:
    texts, labels = _rows()
    result = cross_validate(texts, labels, folds=3)
    for method in ("baseline", "shipped"):
        assert result[method]["macro_f1"] > 0.9, method
        assert set(result[method]["per_class_f1"]) == set(TOPICS)
    assert all(c in C_GRID for c in result["baseline"]["chosen_C"])


def test_run_writes_no_message_text(tmp_path: Path) -> None:
    texts, labels = _rows()
    messages = tmp_path / "messages.csv"
    label_file = tmp_path / "labels.csv"
    with messages.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["留言编号", "留言主题", "留言详情"])
        for i, t in enumerate(texts):
            w.writerow([str(i), t[:6], t])
    with label_file.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["留言编号", "department_type", "level", "rule"])
        for i, y in enumerate(labels):
            level = ("street", "district", "city")[i % 3]  # the shipped SVM needs 3+ classes
            w.writerow([str(i), y, level, "acted"])
    out = tmp_path / "out"
    report = run(label_file, messages, out, min_examples=3)
    assert report["department_type"]["examples"] == len(texts)
    assert (out / "department_type-baseline-confusion.csv").exists()
    assert (out / "level-shipped-confusion.csv").exists()
    written = "".join(p.read_text(encoding="utf-8") for p in out.glob("*.csv"))
    written += json.dumps(report, ensure_ascii=False)
    assert "小区电梯" not in written and "红绿灯" not in written
