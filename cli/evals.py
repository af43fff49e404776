"""Evaluation commands: retrieval, routing, compare, dispatch drafts."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli import show
from cli.common import console, engine_choice, err, fail, get_settings, services
from cli.regulations import configured_index

if TYPE_CHECKING:
    from evals.drafts import Drafter
    from knowledge import Knowledge

eval_app = typer.Typer(help="评测 (evaluation)", no_args_is_help=True)


@eval_app.command("retrieval")
def eval_retrieval(
    dataset: Annotated[
        Path, typer.Option(help="JSONL：每行 question 和 answers[{title, article}]")
    ],
    out: Annotated[Path, typer.Option(help="输出目录（metrics.json、report.md）")],
    mode: Annotated[
        list[str] | None,
        typer.Option(
            help="检索方式，可重复；默认 hybrid、fused、lexical、dense 都评；llm 为模型重排（需配置模型）"
        ),
    ] = None,
) -> None:
    """评测法规检索：recall@1/5/10、MRR、延迟，以及未排第一的问题。"""
    from rich.table import Table

    from evals.errors import DatasetError
    from evals.retrieval import evaluate, load_dataset, write_report

    index = configured_index()
    if not index.units:
        fail("法规索引为空，请先运行 sanji index build --source 法规目录")
    try:
        questions = load_dataset(dataset)
    except (DatasetError, OSError) as exc:
        fail(str(exc))
    modes = mode or ["hybrid", "fused", "lexical", "dense"]
    unknown = [m for m in modes if m not in ("hybrid", "fused", "lexical", "dense", "llm")]
    if unknown:
        fail(f"未知的检索方式：{'、'.join(unknown)}（可选 hybrid、fused、lexical、dense、llm）")
    llm = None
    if "llm" in modes:
        from agents.llm import build_llm

        llm = build_llm(get_settings())
        if llm is None:
            fail("llm 方式需要配置模型服务（SANJI_LLM_BASE_URL 等）")
    runs = [evaluate(index, questions, m, llm=llm) for m in modes]
    write_report(out, dataset, runs, index)
    table = Table(title=f"法规检索评测（{len(questions)} 题）")
    for col in ("方式", "R@1", "R@5", "R@10", "MRR", "p50 ms", "p95 ms"):
        table.add_column(col, justify="right")
    for r in runs:
        table.add_row(
            r["mode"],
            f"{r['recall@1']:.3f}",
            f"{r['recall@5']:.3f}",
            f"{r['recall@10']:.3f}",
            f"{r['mrr']:.3f}",
            str(r["latency_ms"]["p50"]),
            str(r["latency_ms"]["p95"]),
        )
    console.print(table)
    if len(runs[0]["by_style"]) > 1:
        styles = Table(title="按提问风格")
        for col in ("方式", "风格", "题数", "R@1", "R@5", "R@10", "MRR"):
            styles.add_column(col, justify="right")
        for r in runs:
            for style, m in r["by_style"].items():
                styles.add_row(
                    r["mode"],
                    style,
                    str(m["questions"]),
                    *(f"{m[k]:.3f}" for k in ("recall@1", "recall@5", "recall@10", "mrr")),
                )
        console.print(styles)
    console.print(f"报告已写入 {out}/metrics.json 和 {out}/report.md")


@contextmanager
def _drafting(
    engine: str, *, precedents: bool = True
) -> Iterator[tuple[Drafter, Knowledge, str | None, Callable[[str, str], bool]]]:
    """A function drafting one case with the shipped engine (nothing stored), the knowledge,
    the model name when the LLM engine is used, and whether an article exists in the index."""
    from evals.drafts import case_drafter

    if engine == "llm" and not get_settings().llm_configured:
        fail("使用 llm 引擎需要配置 SANJI_LLM_BASE_URL")
    with services(durable=False, precedents=precedents) as built:
        model = built.deps.llm.model if built.deps.llm else None
        index = built.index

        def exists(title: str, article: str) -> bool:
            return index.get_article(title, article) is not None

        yield case_drafter(built.dispatcher, engine), built.knowledge, model, exists


@eval_app.command("routing")
def eval_routing(
    dataset: Annotated[Path, typer.Option(help="CSV / JSONL / XLSX")],
    text_col: Annotated[list[str], typer.Option(help="文本列，可重复（如标题和正文），按顺序拼接")],
    label_col: Annotated[str, typer.Option(help="标签列（JSONL 可用 gold.subtype 这样的路径）")],
    out: Annotated[Path, typer.Option(help="输出目录")],
    target: Annotated[
        str, typer.Option(help="标签的含义：category / department / level / urgency")
    ] = "category",
    label_map: Annotated[
        Path | None, typer.Option(help="YAML：数据集标签 → 本系统编码（可多对一）")
    ] = None,
    id_col: Annotated[str | None, typer.Option(help="编号列")] = None,
    source_col: Annotated[str | None, typer.Option(help="来源列（分组统计）")] = None,
    district_col: Annotated[str | None, typer.Option(help="区县列（分组统计）")] = None,
    join: Annotated[
        list[Path] | None, typer.Option(help="正文所在的文件（标注文件只有编号和标签时），可重复")
    ] = None,
    on: Annotated[str | None, typer.Option(help="与 --join 文件关联的编号列")] = None,
    train: Annotated[Path | None, typer.Option(help="在此文件上训练，在 --dataset 上测试")] = None,
    cv: Annotated[int | None, typer.Option(help="K 折交叉验证（固定种子）")] = None,
    method: Annotated[str, typer.Option(help="训练方法：sanji（本系统）或 baseline")] = "sanji",
    with_baseline: Annotated[
        bool, typer.Option("--with-baseline", help="同时在同样的折上跑基线并报告差距")
    ] = False,
    engine: Annotated[str, typer.Option(help="按配置评测时的引擎：offline / llm")] = "offline",
    baseline: Annotated[
        Path | None, typer.Option(help="上一次的 metrics.json：下降超过 --max-drop 则失败")
    ] = None,
    max_drop: Annotated[float, typer.Option(help="允许的最大下降（宏平均 F1 与各类 F1）")] = 0.01,
    limit: Annotated[int | None, typer.Option(help="只评前 N 条（试跑）")] = None,
    unlabelled: Annotated[
        list[Path] | None,
        typer.Option(
            help="无标注的同类文本（同样的 --text-col），只用于本系统方法的主题特征；"
            "交叉验证时每折都去掉该折测试集的文本，可重复"
        ),
    ] = None,
) -> None:
    """评测分拨准确率：准确率、宏/加权 F1、各类指标、前三命中、校准误差、混淆矩阵和 HTML 报告。"""
    from evals.harness import RoutingArgs
    from knowledge import default_knowledge

    if target not in ("category", "department", "level", "urgency"):
        fail("target 只能是 category、department、level 或 urgency")
    if method not in ("sanji", "baseline"):
        fail("method 只能是 sanji 或 baseline")
    engine = engine_choice(engine, "offline", "llm")
    if cv is not None and cv < 2:
        fail("--cv 至少为 2")
    args = RoutingArgs(
        dataset=dataset,
        text_cols=text_col,
        label_col=label_col,
        target=target,  # type: ignore[arg-type]
        out=out,
        id_col=id_col,
        label_map=label_map,
        source_col=source_col,
        district_col=district_col,
        join=join or [],
        on=on,
        train=train,
        cv=cv,
        method=method,  # type: ignore[arg-type]
        with_baseline=with_baseline,
        engine=engine,  # type: ignore[arg-type]
        baseline=baseline,
        max_drop=max_drop,
        limit=limit,
        unlabelled=unlabelled or [],
    )
    if unlabelled and cv is None and train is None:
        fail("--unlabelled 只用于训练（--cv 或 --train）")
    drafter, model = None, None
    with ExitStack() as stack:
        if cv is None and train is None:
            draft, k, model, _ = stack.enter_context(_drafting(engine))
            drafter = lambda case: draft(case.fields, case.text)  # noqa: E731
        else:
            k = default_knowledge()
        run = _run_routing(args, k, drafter, model)
    show.routing_eval(run)
    if run["gate"] and run["gate"]["failed"]:
        err.print("[bold red]回归门槛未通过[/]：" + "；".join(run["gate"]["failures"]))
        raise typer.Exit(1)


def _run_routing(args: Any, k: Knowledge, drafter: Any, model: str | None) -> dict[str, Any]:
    from rich.progress import Progress

    from evals.errors import DatasetError
    from evals.harness import run_routing

    try:
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("评测", total=None)

            def tick(stage: str, n: int, total: int) -> None:
                bar.update(task, description=stage, completed=n, total=total)

            run, _, _ = run_routing(args, k, drafter, model=model, progress=tick)
    except DatasetError as exc:
        fail(str(exc))
    return run


@eval_app.command("drift")
def eval_drift(
    limit: Annotated[int, typer.Option(help="最多列出的行数")] = 30,
    out: Annotated[Path | None, typer.Option(help="同时把全部行写入此 JSON 文件")] = None,
) -> None:
    """偏移报告：各部门类型和小类的退单率、主要退单原因，值班员纠正与当前纠正模型的分歧。"""
    from dataclasses import asdict

    from agents.feedback import drift
    from agents.runtime import load_feedback
    from cli.common import event_store
    from knowledge import default_knowledge

    k = default_knowledge()
    model = load_feedback(get_settings().data_dir / "models")
    with event_store() as store:
        rows = drift(store, k, model)
    show.drift_report(rows, k, limit)
    if out is not None:
        out.write_text(
            json.dumps([asdict(r) for r in rows], ensure_ascii=False, indent=1), encoding="utf-8"
        )
        console.print(f"已写入 {out}")


@eval_app.command("compare")
def eval_compare(
    a: Annotated[Path, typer.Argument(help="较早一次的 metrics.json 或其目录")],
    b: Annotated[Path, typer.Argument(help="较新一次的 metrics.json 或其目录")],
) -> None:
    """比较两次分拨评测：主要指标和各类 F1 的变化（B − A）。"""
    from evals.routing import compare

    def read(p: Path) -> dict[str, Any]:
        path = p / "metrics.json" if p.is_dir() else p
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            fail(f"无法读取 {path}：{exc}")
            raise
        return data

    show.comparison(compare(read(a), read(b)))


@eval_app.command("dispatch")
def eval_dispatch(
    dataset: Annotated[
        Path, typer.Option(help="金标准集 JSONL（gold：小类、主办、协办、层级、紧急程度、法规）")
    ],
    out: Annotated[Path, typer.Option(help="输出目录")],
    engine: Annotated[str, typer.Option(help="offline / llm")] = "offline",
    type_map: Annotated[
        Path | None,
        typer.Option(help="YAML：独立金标准集自己的部门类型名 → 本系统部门类型编码"),
    ] = None,
    rules_only: Annotated[
        bool, typer.Option("--rules-only", help="不用判例库，只按规则定层级和主办（对照用）")
    ] = False,
) -> None:
    """评测整张派单草稿：小类、主办部门、协办、层级、紧急程度、法规引用，并按疑难类型分组。"""
    from rich.progress import Progress

    from evals.dispatch_eval import evaluate_dispatch
    from evals.errors import DatasetError

    engine = engine_choice(engine, "offline", "llm")
    try:
        with (
            _drafting(engine, precedents=not rules_only) as (draft, k, _, exists),
            Progress(console=console, transient=True) as bar,
        ):
            task = bar.add_task("起草", total=None)
            result = evaluate_dispatch(
                dataset,
                k,
                lambda row: draft(row, str(row["text"])),
                out,
                engine=engine,
                type_map=type_map,
                exists=exists,
                progress=lambda n, total: bar.update(task, completed=n, total=total),
            )
    except DatasetError as exc:
        fail(str(exc))
    if result["typed"]:
        show.typed_dispatch_eval(dataset.name, result)
    else:
        show.dispatch_eval(dataset.name, result)
    console.print(f"结果：{out}/metrics.json、{out}/predictions.jsonl")
