"""One routing evaluation run, end to end: read the dataset, predict in the chosen mode, score,
gate against a baseline run, write the outputs. The CLI (``sanji eval routing``) is a thin
wrapper; tests call ``run_routing`` directly."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from evals import report
from evals.baselines import paired
from evals.errors import DatasetError
from evals.methods import cross_validate, fit_predict, folds
from evals.routing import (
    Case,
    LabelSpace,
    Method,
    Prediction,
    Target,
    dataset_hash,
    draft_cases,
    git_commit,
    load_cases,
    load_unlabelled,
    metrics,
    regressions,
    slices,
    usage,
)
from knowledge import Knowledge

TARGET_ZH = {
    "category": "事件分类",
    "department": "主办部门",
    "level": "承办层级",
    "urgency": "紧急程度",
}


@dataclass
class RoutingArgs:
    dataset: Path
    text_cols: list[str]
    label_col: str
    target: Target = "category"
    out: Path = Path("data/eval-routing")
    id_col: str | None = None
    label_map: Path | None = None
    source_col: str | None = None
    district_col: str | None = None
    join: list[Path] = field(default_factory=list)
    on: str | None = None
    train: Path | None = None
    cv: int | None = None
    method: Method = "sanji"
    with_baseline: bool = False
    engine: Literal["offline", "llm"] = "offline"
    baseline: Path | None = None
    max_drop: float = 0.01
    limit: int | None = None
    #: texts without labels that our method's topics are fitted on (``--cv`` and ``--train``)
    unlabelled: list[Path] = field(default_factory=list)

    def settings(self) -> dict[str, Any]:
        def plain(v: Any) -> Any:
            if isinstance(v, Path):
                return str(v)
            if isinstance(v, list):
                return [plain(x) for x in v]
            return v

        return {k: plain(v) for k, v in self.__dict__.items()}


def names_for(k: Knowledge, target: Target) -> dict[str, str]:
    """Readable names for our codes in reports."""
    if target == "category":
        return {
            **{c: s.name for c, s in k.subtypes.items()},
            **{c: x.name for c, x in k.categories.items()},
        }
    if target == "department":
        return {
            **{c: d.name for c, d in k.departments.items()},
            **{c: str(next(iter(t.name.values()), c)) for c, t in k.department_types.items()},
        }
    if target == "level":
        return {"street": "街道（镇）", "district": "区县", "city": "市级"}
    return {"normal": "一般", "urgent": "紧急", "critical": "特急"}


def fold_f1(
    tested: list[Case], predictions: list[Prediction], splits: list[tuple[list[int], list[int]]]
) -> list[float]:
    """Macro-F1 of each outer fold (``tested`` comes in fold order)."""
    out, start = [], 0
    for _, test in splits:
        end = start + len(test)
        out.append(metrics(tested[start:end], predictions[start:end])["macro_f1"])
        start = end
    return out


def run_routing(
    args: RoutingArgs,
    k: Knowledge,
    drafter: Callable[[Case], dict[str, Any]] | None = None,
    *,
    model: str | None = None,
    progress: Callable[[str, int, int], None] = lambda stage, n, total: None,
) -> tuple[dict[str, Any], list[Case], list[Prediction]]:
    """Run one evaluation; returns the run record (what metrics.json holds), the scored cases
    and their predictions. ``drafter`` drafts one case with the shipped engine (as-configured
    mode)."""
    read = dict(
        text_cols=args.text_cols,
        label_col=args.label_col,
        id_col=args.id_col,
        source_col=args.source_col,
        district_col=args.district_col,
        joins=args.join,
        on=args.on,
    )
    cases = load_cases(args.dataset, **read)  # type: ignore[arg-type]
    if args.limit:
        cases = cases[: args.limit]
    space = LabelSpace(
        k,
        args.target,
        {c.label for c in cases},
        args.label_map,
        trained=bool(args.cv or args.train),
    )
    unlabelled = load_unlabelled(args.unlabelled, args.text_cols) if args.unlabelled else []
    baseline_metrics = None
    fold_rows: list[dict[str, Any]] = []
    paired_gain = None
    if args.cv:
        mode, mode_zh = f"cv{args.cv}", f"{args.cv} 折交叉验证（种子 0）"
        splits = folds(cases, args.cv)
        our_notes: list[dict[str, Any]] = []
        tested, predictions = cross_validate(
            args.method,
            k,
            space,
            cases,
            splits,
            lambda n: progress("交叉验证", n, args.cv or 0),
            notes=our_notes,
            unlabelled=unlabelled,
        )
        fold_rows = [
            {"fold": n, "macro_f1": f1, args.method: note}
            for n, (f1, note) in enumerate(
                zip(fold_f1(tested, predictions, splits), our_notes, strict=True), start=1
            )
        ]
        if args.with_baseline and args.method != "baseline":
            base_notes: list[dict[str, Any]] = []
            _, base = cross_validate("baseline", k, space, cases, splits, notes=base_notes)
            baseline_metrics = metrics(tested, base)
            base_f1 = fold_f1(tested, base, splits)
            for row, f1, note in zip(fold_rows, base_f1, base_notes, strict=True):
                row.update(baseline_macro_f1=f1, gain=round(row["macro_f1"] - f1, 4))
                row["baseline"] = note
            paired_gain = paired([r["macro_f1"] for r in fold_rows], base_f1)
        cases = tested
    elif args.train:
        mode, mode_zh = "train", f"在 {args.train.name} 上训练"
        train_cases = load_cases(args.train, **read)  # type: ignore[arg-type]
        predictions = fit_predict(args.method, k, space, train_cases, cases, unlabelled=unlabelled)
        if args.with_baseline and args.method != "baseline":
            baseline_metrics = metrics(cases, fit_predict("baseline", k, space, train_cases, cases))
    else:
        if drafter is None:
            raise DatasetError("按配置评测需要分拨引擎")
        mode, mode_zh = "configured", "按配置（已发布的引擎，零样本）"
        predictions = draft_cases(drafter, cases, space, lambda n: progress("分拨", n, len(cases)))
    m = metrics(cases, predictions)
    engine = args.engine if mode == "configured" else f"trained:{args.method}"
    run: dict[str, Any] = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "dataset": {
            "name": args.dataset.name,
            "path": str(args.dataset),
            "hash": dataset_hash(args.dataset, args.join),
            "joined": [str(j) for j in args.join],
            "label_space": space.granularity,
        },
        "target": args.target,
        "target_zh": TARGET_ZH[args.target],
        "mode": mode,
        "mode_zh": mode_zh,
        "engine": engine,
        "model": model if mode == "configured" and args.engine == "llm" else None,
        "git_commit": git_commit(),
        "settings": args.settings(),
        "metrics": m,
        "slices": {
            "来源": slices(cases, predictions, "source"),
            "区县": slices(cases, predictions, "district"),
        },
        "usage": usage(predictions) if mode == "configured" else None,
        "baseline": baseline_metrics,
        "gain_macro_f1": round(m["macro_f1"] - baseline_metrics["macro_f1"], 4)
        if baseline_metrics
        else None,
        "folds": fold_rows,
        "gain_paired": paired_gain,
        "gate": None,
    }
    # the headline figures also at the top level, where the gate and compare read them
    for key in ("accuracy", "macro_f1", "weighted_f1", "top3_accuracy", "ece", "per_class"):
        run[key] = m[key]
    if args.baseline is not None:
        try:
            old = json.loads(args.baseline.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DatasetError(f"无法读取基线 {args.baseline}：{exc}") from exc
        failures = regressions(run, old, args.max_drop)
        run["gate"] = {
            "baseline": str(args.baseline),
            "max_drop": args.max_drop,
            "failed": bool(failures),
            "failures": failures,
        }
    report.write(args.out, run, cases, predictions, names_for(k, args.target))
    return run, cases, predictions
