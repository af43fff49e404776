"""The routing-accuracy harness: does Sanji send events to the right place?

A dataset (CSV, JSONL or XLSX; its texts may live in another file joined by id) gives texts
and gold labels of one ``target``: the event category (our subtype or category codes, or a
foreign taxonomy through a label map), the lead department, the level or the urgency. Three
modes: as configured (the shipped engine drafts every case; nothing is stored), ``--train``
(our training method fitted on one file, tested on another) and ``--cv K`` (stratified K-fold
of the training method on the dataset itself, fixed seed). Outputs: metrics.json,
predictions.jsonl, confusion.csv/.png and report.html (``evals.report``)."""

from __future__ import annotations

import hashlib
import itertools
import re
import statistics
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from evals.errors import DatasetError
from evals.tables import read_table
from knowledge import Knowledge

Target = Literal["category", "department", "level", "urgency"]
Method = Literal["sanji", "baseline"]
SEED = 0


@dataclass
class Case:
    id: str
    text: str
    label: str
    source: str | None = None
    district: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)  # the row, for drafting (address…)


@dataclass
class Prediction:
    label: str | None
    top: list[str]  # up to three labels, best first (empty when the engine gives only one)
    confidence: float | None
    latency_ms: float
    explanation: str = ""
    needs_human: list[str] = field(default_factory=list)
    trace: list[dict[str, Any]] = field(default_factory=list)
    raw_confidence: float | None = None  # before calibration (softmax of the raw scores)


# -- reading ---------------------------------------------------------------------------------


def _get(row: dict[str, Any], column: str) -> Any:
    """A column, or a dotted path into nested JSON (``gold.subtype``)."""
    value: Any = row
    for part in column.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def joined(parts: Sequence[Any]) -> str:
    """A row's text columns as one text: joined with 「。」, whitespace runs made one space.
    Cases and unlabelled texts are read alike, so a test text is found among the unlabelled."""
    return re.sub(r"\s+", " ", "。".join(str(p).strip() for p in parts if p)).strip()


def load_cases(
    path: Path,
    *,
    text_cols: Sequence[str],
    label_col: str,
    id_col: str | None = None,
    source_col: str | None = None,
    district_col: str | None = None,
    joins: Sequence[Path] = (),
    on: str | None = None,
) -> list[Case]:
    """Cases from a dataset. With ``joins``, the dataset holds ids and labels only and the
    texts come from the joined files, matched on ``on`` (and on a ``file`` column naming the
    joined file, when the dataset has one)."""
    rows = read_table(path)
    if not rows:
        raise DatasetError(f"{path.name} 没有数据行")
    tables: dict[str, dict[str, dict[str, Any]]] = {}
    if joins:
        if not on:
            raise DatasetError("使用 --join 时需要 --on 指定关联的编号列")
        for j in joins:
            table = read_table(j)
            if table and on not in table[0]:
                raise DatasetError(f"{j.name} 没有列 {on}")
            tables[j.name] = {str(r[on]).strip(): r for r in table}
    cases: list[Case] = []
    missing = 0
    for n, row in enumerate(rows, start=1):
        label = _get(row, label_col)
        if label is None or str(label).strip() == "":
            raise DatasetError(f"{path.name} 第{n}行没有标签列 {label_col}")
        merged = dict(row)
        if joins:
            key = str(row.get(on or "", "")).strip()
            names = [str(row["file"])] if row.get("file") in tables else list(tables)
            found = next((tables[t][key] for t in names if key in tables[t]), None)
            if found is None:
                missing += 1
                continue
            merged = {**found, **row}
        parts = [_get(merged, c) for c in text_cols]
        if all(p is None for p in parts):
            raise DatasetError(f"{path.name} 第{n}行没有文本列 {'、'.join(text_cols)}")
        text = joined(parts)
        if not text:
            continue
        case_id = str(
            _get(merged, id_col) if id_col else merged.get("id", merged.get(on or "id", n))
        )
        cases.append(
            Case(
                id=case_id,
                text=text,
                label=str(label).strip(),
                source=str(_get(merged, source_col)) if source_col else None,
                district=str(_get(merged, district_col)) if district_col else None,
                fields=merged,
            )
        )
    if joins and missing:
        raise DatasetError(f"{missing} 条标注在关联文件中找不到对应编号（--on {on}）")
    return cases


def load_unlabelled(paths: Sequence[Path], text_cols: Sequence[str]) -> list[str]:
    """Texts without labels (each row's ``text_cols`` joined as ``load_cases`` joins them),
    once each, in file order. A file with none of the columns is an error."""
    seen: dict[str, None] = {}
    for path in paths:
        rows = read_table(path)
        if rows and not any(c in rows[0] for c in text_cols):
            raise DatasetError(f"{path.name} 没有文本列 {'、'.join(text_cols)}")
        for row in rows:
            text = joined([_get(row, c) for c in text_cols])
            if text:
                seen.setdefault(text)
    return list(seen)


def dataset_hash(path: Path, joins: Sequence[Path] = ()) -> str:
    h = hashlib.sha256()
    for p in (path, *joins):
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


# -- label spaces ------------------------------------------------------------------------------


class LabelSpace:
    """Turns what Sanji decides (a subtype, a department, a level, an urgency) into the
    dataset's labels: our own codes, or a foreign taxonomy through a label map
    (``{dataset: name, map: {label: [our codes]}}``; codes may be subtypes, categories,
    departments or department types; many-to-one allowed)."""

    def __init__(
        self,
        k: Knowledge,
        target: Target,
        labels: Iterable[str],
        label_map: Path | None,
        *,
        trained: bool = False,
    ):
        """``trained``: a training mode (``--cv``, ``--train``), where labels that are not our
        codes are taken as they are (granularity ``own``: train and test on them, without the
        knowledge prior). Scoring the shipped model as configured needs our codes or a map."""
        self.k, self.target = k, target
        self.mapping: dict[str, str] = {}
        self.granularity = "own"
        labels = set(labels)
        if label_map is not None:
            self._load_map(label_map)
            self.granularity = "mapped"
            return
        if trained and not self._ours(labels):
            return
        if target == "category":
            if labels <= set(k.subtypes):
                self.granularity = "subtype"
            elif labels <= set(k.categories):
                self.granularity = "category"
            else:
                unknown = sorted(labels - set(k.subtypes) - set(k.categories))[:5]
                raise DatasetError(
                    f"标签不是本系统的小类或大类编码（如 {'、'.join(unknown)}）：按配置评测已发布的模型需用 "
                    "--label-map 提供映射；或用 --cv K / --train 直接在数据集自己的标签上训练和测试"
                )
        elif target == "department":
            if labels <= set(k.departments):
                self.granularity = "department"
            elif labels <= set(k.department_types):
                self.granularity = "department_type"
            else:
                raise DatasetError(
                    "部门标签不是本系统的部门或部门类型编码：按配置评测需用 --label-map 提供映射；"
                    "或用 --cv K / --train 直接在数据集自己的标签上训练和测试"
                )
        else:
            allowed = {
                "level": {"street", "district", "city"},
                "urgency": {"normal", "urgent", "critical"},
            }
            bad = labels - allowed[target]
            if bad:
                raise DatasetError(
                    f"{target} 标签只能是 {'/'.join(sorted(allowed[target]))}，发现 {'、'.join(sorted(bad)[:5])}；或用 --label-map"
                )

    def _ours(self, labels: set[str]) -> bool:
        k = self.k
        if self.target == "category":
            return labels <= set(k.subtypes) or labels <= set(k.categories)
        if self.target == "department":
            return labels <= set(k.departments) or labels <= set(k.department_types)
        if self.target == "level":
            return labels <= {"street", "district", "city"}
        return labels <= {"normal", "urgent", "critical"}

    def _load_map(self, path: Path) -> None:
        try:
            spec = yaml.safe_load(path.read_text(encoding="utf-8"))
            table = spec["map"]
        except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
            raise DatasetError(
                f"标签映射 {path} 无法读取：需要 map: {{数据集标签: [本系统编码]}}（{exc}）"
            ) from exc
        k = self.k
        for label, codes in table.items():
            for code in codes or []:
                code = str(code)
                if code in k.categories:
                    targets = [s.code for s in k.subtypes_of(code)]
                elif code in k.department_types:
                    targets = [d.code for d in k.departments.values() if d.type == code]
                elif (
                    code in k.subtypes
                    or code in k.departments
                    or code in ("street", "district", "city", "normal", "urgent", "critical")
                ):
                    targets = [code]
                else:
                    raise DatasetError(f"标签映射 {path.name} 中的编码 {code} 不存在")
                for t in targets:
                    if t in self.mapping and self.mapping[t] != str(label):
                        raise DatasetError(
                            f"标签映射 {path.name}：{t} 同时映射到 {self.mapping[t]} 和 {label}"
                        )
                    self.mapping[t] = str(label)

    def of_subtype(self, subtype: str) -> str | None:
        if self.granularity == "mapped":
            return self.mapping.get(subtype)
        if self.granularity == "category":
            return self.k.subtypes[subtype].category
        return subtype

    def of_department(self, code: str) -> str | None:
        if self.granularity == "mapped":
            return self.mapping.get(code)
        if self.granularity == "department_type":
            return self.k.departments[code].type if code in self.k.departments else None
        return code

    def of_value(self, value: str) -> str | None:
        return self.mapping.get(value) if self.granularity == "mapped" else value

    def from_draft(self, draft: dict[str, Any]) -> tuple[str | None, list[str], float | None]:
        """The predicted label, the top-3 labels and the confidence of the first, from a draft."""
        if self.target == "category":
            top: list[str] = []
            mass: dict[str, float] = {}
            for alt in draft["category"]["alternatives"]:
                label = self.of_subtype(alt["subtype"])
                if label is None:
                    continue
                mass[label] = mass.get(label, 0.0) + float(alt["probability"])
                if label not in top:
                    top.append(label)
            first = self.of_subtype(draft["category"]["code"])
            if first is not None and first in top:
                top.remove(first)
            ranked = [first, *top] if first is not None else top
            confidence = (
                min(1.0, mass.get(first, draft["category"]["confidence"])) if first else None
            )
            return first, ranked[:3], confidence
        if self.target == "department":
            return self.of_department(draft["lead_department"]["code"]), [], None
        return self.of_value(draft[self.target]), [], None


# -- the engines -------------------------------------------------------------------------------


def draft_cases(
    drafter: Callable[[Case], dict[str, Any]],
    cases: Sequence[Case],
    space: LabelSpace,
    progress: Callable[[int], None] = lambda n: None,
) -> list[Prediction]:
    """As configured: the shipped engine drafts each case (nothing is stored)."""
    out = []
    for n, case in enumerate(cases, start=1):
        started = time.perf_counter()
        draft = drafter(case)
        latency = (time.perf_counter() - started) * 1000
        label, top, confidence = space.from_draft(draft)
        out.append(
            Prediction(
                label=label,
                top=top,
                confidence=confidence,
                latency_ms=round(latency, 2),
                explanation=draft["explanation"],
                needs_human=draft["needs_human"],
                trace=draft["trace"],
            )
        )
        progress(n)
    return out


# -- metrics -----------------------------------------------------------------------------------


def expected_calibration_error(
    confidence: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> float:
    c = np.asarray(confidence, dtype=float)
    ok = np.asarray(correct, dtype=float)
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in itertools.pairwise(edges):
        inside = (c > lo) & (c <= hi) if lo > 0 else (c >= lo) & (c <= hi)
        if inside.any():
            ece += inside.mean() * abs(ok[inside].mean() - c[inside].mean())
    return round(float(ece), 4)


def metrics(cases: Sequence[Case], predictions: Sequence[Prediction]) -> dict[str, Any]:
    gold = [c.label for c in cases]
    predicted = [p.label or "（无）" for p in predictions]
    labels = sorted(set(gold))
    precision, recall, f1, support = precision_recall_fscore_support(
        gold, predicted, labels=labels, zero_division=0
    )
    per_class = {
        label: {
            "precision": round(float(p), 4),
            "recall": round(float(r), 4),
            "f1": round(float(f), 4),
            "support": int(s),
        }
        for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
    }
    correct = [g == p for g, p in zip(gold, predicted, strict=True)]
    out: dict[str, Any] = {
        "cases": len(gold),
        "classes": len(labels),
        "accuracy": round(float(accuracy_score(gold, predicted)), 4),
        "macro_f1": round(
            float(f1_score(gold, predicted, labels=labels, average="macro", zero_division=0)), 4
        ),
        "weighted_f1": round(
            float(f1_score(gold, predicted, labels=labels, average="weighted", zero_division=0)), 4
        ),
        "top3_accuracy": None,
        "ece": None,
        "per_class": per_class,
    }
    if any(p.top for p in predictions):  # an engine that ranks: a case without ranks misses
        hits = [c.label in p.top[:3] for c, p in zip(cases, predictions, strict=True)]
        out["top3_accuracy"] = round(float(np.mean(hits)), 4)
    if any(p.confidence is not None for p in predictions):
        # a case mapped to no label of the dataset was predicted with no confidence in any
        confidence = [p.confidence or 0.0 for p in predictions]
        out["ece"] = expected_calibration_error(confidence, correct)
        out["mean_confidence"] = round(float(np.mean(confidence)), 4)
    if any(p.raw_confidence is not None for p in predictions):
        raw = [p.raw_confidence or 0.0 for p in predictions]
        out["ece_uncalibrated"] = expected_calibration_error(raw, correct)
    latencies = [p.latency_ms for p in predictions]
    out["latency_ms"] = {
        "p50": round(statistics.median(latencies), 2),
        "p95": round(float(np.percentile(latencies, 95)), 2),
    }
    out["needs_human"] = sum(1 for p in predictions if p.needs_human)
    return out


def slices(cases: Sequence[Case], predictions: Sequence[Prediction], attr: str) -> dict[str, Any]:
    groups: dict[str, list[bool]] = {}
    for c, p in zip(cases, predictions, strict=True):
        key = getattr(c, attr)
        if key is not None:
            groups.setdefault(str(key), []).append(c.label == p.label)
    return {
        k: {"cases": len(v), "accuracy": round(sum(v) / len(v), 4)}
        for k, v in sorted(groups.items())
    }


def usage(predictions: Sequence[Prediction]) -> dict[str, Any]:
    """Model calls, tokens and fallbacks recorded in the drafts' traces."""
    calls = tokens_in = tokens_out = fallbacks = 0
    engines: Counter[str] = Counter()
    for p in predictions:
        for t in p.trace:
            calls += int(t.get("llm_calls", 0))
            tokens_in += int(t.get("prompt_tokens", 0))
            tokens_out += int(t.get("completion_tokens", 0))
            fallbacks += len(t.get("fallbacks", []))
            engines[f"{t.get('agent')}:{t.get('engine')}"] += 1
    return {
        "llm_calls": calls,
        "prompt_tokens": tokens_in,
        "completion_tokens": tokens_out,
        "fallbacks": fallbacks,
        "engines": dict(sorted(engines.items())),
    }


def git_commit() -> str | None:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=5
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("-dirty" if dirty else "")


# -- the regression gate and comparisons ----------------------------------------------------------


def regressions(current: dict[str, Any], baseline: dict[str, Any], max_drop: float) -> list[str]:
    """What dropped by more than ``max_drop``: macro-F1, and each class's F1 (classes present
    in both runs)."""
    out = []
    drop = baseline["macro_f1"] - current["macro_f1"]
    if drop > max_drop:
        out.append(
            f"macro-F1 {baseline['macro_f1']:.4f} → {current['macro_f1']:.4f}（下降 {drop:.4f}）"
        )
    for label, old in baseline.get("per_class", {}).items():
        new = current.get("per_class", {}).get(label)
        if new is None or not old["support"]:
            continue
        d = old["f1"] - new["f1"]
        if d > max_drop:
            out.append(f"类别 {label} F1 {old['f1']:.4f} → {new['f1']:.4f}（下降 {d:.4f}）")
    return out


HEADLINE = ("accuracy", "macro_f1", "weighted_f1", "top3_accuracy", "ece")


def compare(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Differences between two runs (b − a): headline figures and per-class F1."""
    head = {
        key: {"a": a.get(key), "b": b.get(key), "delta": _delta(a.get(key), b.get(key))}
        for key in HEADLINE
    }
    classes = sorted(set(a.get("per_class", {})) | set(b.get("per_class", {})))
    per_class = {}
    for label in classes:
        fa = a.get("per_class", {}).get(label, {}).get("f1")
        fb = b.get("per_class", {}).get(label, {}).get("f1")
        per_class[label] = {"a": fa, "b": fb, "delta": _delta(fa, fb)}
    return {"headline": head, "per_class": per_class}


def _delta(x: Any, y: Any) -> float | None:
    return round(y - x, 4) if isinstance(x, int | float) and isinstance(y, int | float) else None
