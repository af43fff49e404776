"""The ``sanji`` command: thin, it calls into the rooms below and prints for officers (zh-CN)."""

from __future__ import annotations

import csv
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from settings import get_settings

app = typer.Typer(
    help="三级 Sanji：城市运行和治理中心智能体 (city governance command-center agents)",
    no_args_is_help=True,
    add_completion=False,
)
demo_app = typer.Typer(help="演示数据 (demo data)", no_args_is_help=True)
knowledge_app = typer.Typer(help="知识库文件 (knowledge files)", no_args_is_help=True)
import_app = typer.Typer(help="导入数据 (import data)", no_args_is_help=True)
index_app = typer.Typer(help="法规索引 (regulation index)", no_args_is_help=True)
eval_app = typer.Typer(help="评测 (evaluation)", no_args_is_help=True)
users_app = typer.Typer(help="账号与密钥 (officers and API keys)", no_args_is_help=True)
app.add_typer(demo_app, name="demo")
app.add_typer(knowledge_app, name="knowledge")
app.add_typer(import_app, name="import")
app.add_typer(index_app, name="index")
app.add_typer(eval_app, name="eval")
app.add_typer(users_app, name="users")
console = Console()
err = Console(stderr=True)


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]错误[/]：{message}")
    raise typer.Exit(code)


@app.command()
def version() -> None:
    """显示版本 (show the version)."""
    from server import VERSION

    console.print(f"sanji {VERSION}")


@app.command()
def doctor() -> None:
    """检查各部分是否可用：配置、知识库、数据库、向量索引、嵌入模型、大模型 (check every part)."""
    from tools.doctor import run_checks

    settings = get_settings()
    table = Table(title="Sanji 自检 (doctor)")
    for col in ("部分 part", "状态 status", "说明 detail"):
        table.add_column(col)
    failed = False
    for check in run_checks(settings):
        mark = {"ok": "[green]正常[/]", "warn": "[yellow]提示[/]", "fail": "[red]失败[/]"}[
            check.status
        ]
        table.add_row(check.name, mark, check.detail)
        failed |= check.status == "fail"
    console.print(table)
    if failed:
        raise typer.Exit(1)


@knowledge_app.command("check")
def knowledge_check(
    directory: Annotated[Path | None, typer.Argument(help="知识文件目录，默认为内置目录")] = None,
) -> None:
    """校验知识文件（辖区、部门与权责清单、事件分类、时限、升级规则）。"""
    from knowledge import KnowledgeError, load_knowledge

    try:
        k = load_knowledge(directory)
    except KnowledgeError as exc:
        _fail(str(exc))
        return
    console.print(
        f"[green]知识文件校验通过[/]：{len(k.districts())} 个区县，{len(k.streets())} 个街道（镇），"
        f"{len(k.departments)} 个部门，{len(k.duties)} 条权责，{len(k.categories)} 个大类，"
        f"{len(k.subtypes)} 个小类，{len(k.escalation_rules)} 条升级规则。"
    )


@demo_app.command("load")
def demo_load(
    count: Annotated[int, typer.Option(help="生成事件数")] = 640,
    seed: Annotated[int | None, typer.Option(help="随机种子，默认取配置 SANJI_DEMO_SEED")] = None,
) -> None:
    """生成并导入演示事件（重复执行不会重复导入）。"""
    from rich.progress import Progress

    from demo.load import load_demo
    from knowledge import default_knowledge
    from store import EventStore

    settings = get_settings()
    k = default_knowledge()
    store = EventStore.open(settings.resolved_database_url, k.store_rules)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("导入演示事件", total=count)
        result = load_demo(
            store,
            k,
            seed=seed if seed is not None else settings.demo_seed,
            now=datetime.now(UTC),
            count=count,
            progress=lambda n, total: bar.update(task, completed=n),
        )
    store.close()
    console.print(
        f"演示数据：新增 {result['created']} 件，已存在跳过 {result['skipped']} 件，"
        f"流转记录 {result['transitions']} 条。"
    )


@demo_app.command("labelled")
def demo_labelled(
    out: Annotated[Path, typer.Option(help="输出 JSONL 文件")],
    seed: Annotated[int, typer.Option(help="随机种子")] = 7,
    per_subtype: Annotated[int, typer.Option(help="每个小类的条数")] = 4,
) -> None:
    """生成带标注的训练集（与演示事件分开）。"""
    from demo.generator import generate_labelled
    from knowledge import default_knowledge

    rows = generate_labelled(default_knowledge(), seed=seed, per_subtype=per_subtype)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    console.print(f"已写入 {len(rows)} 条标注样本：{out}")


@import_app.command("events")
def import_events_cmd(
    file: Annotated[Path, typer.Argument(help="CSV、JSONL 或 XLSX 文件")],
    mapping: Annotated[
        list[str],
        typer.Option("--map", help="字段=列名，如 --map text=留言详情 --map reported_at=留言时间"),
    ],
    source: Annotated[
        str, typer.Option(help="来源渠道：hotline/web/grid/ai_video/sensor/referral")
    ] = "web",
    report: Annotated[Path | None, typer.Option(help="被拒行报告（CSV）的保存路径")] = None,
) -> None:
    """导入事件文件；重复导入不会重复入库，被拒的行逐行给出行号和原因。"""
    from rich.progress import Progress

    from domain.models import Source
    from knowledge import default_knowledge
    from store import EventStore
    from store.errors import ImportFailed
    from store.importer import import_events

    pairs = {}
    for item in mapping:
        name, sep, column = item.partition("=")
        if not sep or not name or not column:
            _fail(f"--map 的格式应为 字段=列名，收到「{item}」")
        pairs[name.strip()] = column.strip()
    try:
        channel = Source(source)
    except ValueError:
        _fail(f"未知的来源「{source}」，可选：{', '.join(s.value for s in Source)}")
        return
    settings = get_settings()
    store = EventStore.open(settings.resolved_database_url, default_knowledge().store_rules)
    try:
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task(f"导入 {file.name}", total=None)
            result = import_events(
                store,
                file,
                pairs,
                source=channel,
                now=datetime.now(UTC),
                progress=lambda n: bar.update(task, completed=n),
            )
    except ImportFailed as exc:
        _fail(str(exc))
        return
    finally:
        store.close()
    table = Table(title=f"导入结果：{file.name}")
    for col in ("读取行数", "新增", "已存在", "被拒"):
        table.add_column(col, justify="right")
    table.add_row(
        *(str(v) for v in (result.rows, result.created, result.existing, len(result.rejected)))
    )
    console.print(table)
    if result.rejected:
        target = report or settings.data_dir / "imports" / f"{file.stem}-rejected.csv"
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["行号", "原因"])
            writer.writerows((r.row, r.reason) for r in result.rejected)
        for r in result.rejected[:10]:
            console.print(f"  第 {r.row} 行：{r.reason}")
        console.print(f"被拒行报告已保存：{target}")


def _open_index() -> Any:
    from knowledge.retrieval import open_index

    settings = get_settings()
    return open_index(
        settings.data_dir,
        settings.resolved_chroma_path,
        str(settings.chroma_url) if settings.chroma_url else None,
    )


@index_app.command("build")
def index_build(
    source: Annotated[
        list[Path] | None,
        typer.Option("--source", help="法规目录或文件（可重复）；默认为内置要点库"),
    ] = None,
) -> None:
    """建立或增量更新法规索引：每条条文一个检索单元；未改动的文件不会重复处理。"""
    from knowledge.retrieval import BUILTIN_DIR, IndexBuildError

    index = _open_index()
    sources = source or [BUILTIN_DIR]
    with console.status("正在建立法规索引…") as status:
        try:
            report = index.build(sources, progress=lambda msg: status.update(msg))
        except IndexBuildError as exc:
            _fail(str(exc))
            return
    table = Table(title="法规索引")
    for col in ("文件 file", "法规 title", "状态 status", "条文 articles", "新嵌入 embedded"):
        table.add_column(col)
    names = {"new": "新增", "changed": "已更新", "unchanged": "未变", "removed": "已移除"}
    for f in report.files:
        table.add_row(Path(f.path).name, f.title, names[f.status], str(f.articles), str(f.embedded))
    console.print(table)
    verdict = "有更新" if report.changed else "无变化，未做任何处理"
    console.print(
        f"共 {len(index.titles())} 部法规、{len(index.units)} 条条文；本次新嵌入 {report.embedded} 条；"
        f"{verdict}；用时 {report.seconds:.1f} 秒。"
    )


@app.command()
def search(
    question: Annotated[str, typer.Argument(help="问题，如「楼下烧烤油烟直排怎么管」")],
    k: Annotated[int, typer.Option(help="返回条数")] = 5,
    region: Annotated[str | None, typer.Option(help="地区：全国 / 重庆")] = None,
    level: Annotated[
        str | None, typer.Option(help="层级：法律 / 行政法规 / 部门规章 / 地方性法规")
    ] = None,
    title: Annotated[str | None, typer.Option(help="只查这部法规")] = None,
    mode: Annotated[
        str, typer.Option(help="hybrid（融合并重排）/ fused（仅融合）/ lexical / dense")
    ] = "hybrid",
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """检索法规条文，给出可引用的法规名称和条号。"""
    from tools.regulations import RegulationQuery, search_regulations

    index = _open_index()
    if not index.units:
        _fail("法规索引为空，请先运行 sanji index build")
    try:
        q = RegulationQuery.model_validate(
            {
                "question": question,
                "k": k,
                "region": region,
                "level": level,
                "title": title,
                "mode": mode,
            }
        )
    except ValueError as exc:
        _fail(f"参数有误：{exc}")
        return
    hits = search_regulations(index, q)
    if as_json:
        print(json.dumps([h.model_dump() for h in hits], ensure_ascii=False, indent=2))
        return
    if not hits:
        console.print("没有找到相关条文。")
    for n, h in enumerate(hits, start=1):
        note = "（要点摘要，非原文）" if h.digest else ""
        console.print(
            f"[bold]{n}. {h.citation}[/]{note} [dim]{h.level}·{h.region} 得分 {h.score:.4f}[/]"
        )
        console.print(f"   {h.text[:200]}{'…' if len(h.text) > 200 else ''}")
        if h.why:
            console.print(f"   [dim]理由：{'；'.join(h.why)}[/]")


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
    from evals.errors import DatasetError
    from evals.retrieval import evaluate, load_dataset, write_report

    index = _open_index()
    if not index.units:
        _fail("法规索引为空，请先运行 sanji index build --source 法规目录")
    try:
        questions = load_dataset(dataset)
    except (DatasetError, OSError) as exc:
        _fail(str(exc))
        return
    modes = mode or ["hybrid", "fused", "lexical", "dense"]
    unknown = [m for m in modes if m not in ("hybrid", "fused", "lexical", "dense", "llm")]
    if unknown:
        _fail(f"未知的检索方式：{'、'.join(unknown)}（可选 hybrid、fused、lexical、dense、llm）")
    llm = None
    if "llm" in modes:
        from agents.llm import build_llm

        llm = build_llm(get_settings())
        if llm is None:
            _fail("llm 方式需要配置模型服务（SANJI_LLM_BASE_URL 等）")
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
    console.print(f"报告已写入 {out}/metrics.json 和 {out}/report.md")


def _drafter(engine: str) -> tuple[Any, Any, str | None]:
    """A function drafting one case with the shipped engine (nothing stored), the knowledge,
    and the model name when the LLM engine is used."""
    from agents.dispatch import Dispatcher
    from agents.runtime import build_deps
    from domain.models import MAX_TEXT_CHARS, EventCreate, Source

    settings = get_settings()
    if engine == "llm" and not settings.llm_configured:
        _fail("使用 llm 引擎需要配置 SANJI_LLM_BASE_URL")
    deps = build_deps(settings)
    dispatcher = Dispatcher(deps, None)

    def draft(fields: dict[str, Any], text: str) -> dict[str, Any]:
        source = str(fields.get("source") or "")
        lat, lon = fields.get("lat"), fields.get("lon")
        event = EventCreate(
            source=Source(source) if source in Source._value2member_map_ else Source.HOTLINE,
            text=text[:MAX_TEXT_CHARS],
            title=(str(fields["title"])[:500] if fields.get("title") else None),
            address=(str(fields["address"])[:500] if fields.get("address") else None),
            lat=float(lat) if isinstance(lat, int | float) else None,
            lon=float(lon) if isinstance(lon, int | float) else None,
            reported_at=datetime.now(UTC),
        )
        view: dict[str, Any] = dispatcher.draft(event, "llm" if engine == "llm" else "offline")
        return view

    return draft, deps.knowledge, deps.llm.model if deps.llm else None


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
) -> None:
    """评测分拨准确率：准确率、宏/加权 F1、各类指标、前三命中、校准误差、混淆矩阵和 HTML 报告。"""
    from rich.progress import Progress

    from evals.errors import DatasetError
    from evals.harness import RoutingArgs, run_routing
    from knowledge import default_knowledge

    if target not in ("category", "department", "level", "urgency"):
        _fail("target 只能是 category、department、level 或 urgency")
    if method not in ("sanji", "baseline"):
        _fail("method 只能是 sanji 或 baseline")
    if engine not in ("offline", "llm"):
        _fail("engine 只能是 offline 或 llm")
    if cv is not None and cv < 2:
        _fail("--cv 至少为 2")
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
    )
    drafter, model = None, None
    if cv is None and train is None:
        draft, k, model = _drafter(engine)
        drafter = lambda case: draft(case.fields, case.text)  # noqa: E731
    else:
        k = default_knowledge()
    try:
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("评测", total=None)

            def tick(stage: str, n: int, total: int) -> None:
                bar.update(task, description=stage, completed=n, total=total)

            run, _, _ = run_routing(args, k, drafter, model=model, progress=tick)
    except DatasetError as exc:
        _fail(str(exc))
        return
    _print_routing(run)
    if run["gate"] and run["gate"]["failed"]:
        err.print("[bold red]回归门槛未通过[/]：" + "；".join(run["gate"]["failures"]))
        raise typer.Exit(1)


def _print_routing(run: dict[str, Any]) -> None:
    m = run["metrics"]
    table = Table(
        title=f"分拨评测 · {run['dataset']['name']} · {run['target_zh']} · {run['mode_zh']}"
    )
    for col in ("指标", "数值"):
        table.add_column(col)

    def pct(x: float | None) -> str:
        return "—" if x is None else f"{x:.1%}"

    rows = [
        ("条数 / 类别", f"{m['cases']} / {m['classes']}"),
        ("准确率", pct(m["accuracy"])),
        ("宏平均 F1", f"{m['macro_f1']:.4f}"),
        ("加权 F1", f"{m['weighted_f1']:.4f}"),
        ("前三命中率", pct(m["top3_accuracy"])),
        ("期望校准误差 ECE", "—" if m["ece"] is None else f"{m['ece']:.4f}"),
        ("延迟 p50 / p95", f"{m['latency_ms']['p50']} / {m['latency_ms']['p95']} ms"),
        ("需人工确认", str(m["needs_human"])),
    ]
    if run["baseline"]:
        rows.append(("基线宏平均 F1（同折）", f"{run['baseline']['macro_f1']:.4f}"))
        rows.append(("高出基线", f"{run['gain_macro_f1'] * 100:+.1f} 个百分点"))
    if run["usage"] and run["usage"]["llm_calls"]:
        u = run["usage"]
        rows.append(("大模型调用 / 回退", f"{u['llm_calls']} / {u['fallbacks']}"))
    for row in rows:
        table.add_row(*row)
    console.print(table)
    worst = sorted(m["per_class"].items(), key=lambda kv: kv[1]["f1"])[:5]
    console.print(
        "最差的类别："
        + "；".join(f"{label} F1 {c['f1']:.2f}（{c['support']} 条）" for label, c in worst)
    )
    console.print(f"报告：{run['settings']['out']}/report.html")


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
            _fail(f"无法读取 {path}：{exc}")
            raise
        return data

    diff = compare(read(a), read(b))
    table = Table(title="分拨评测对比（B − A）")
    for col in ("指标", "A", "B", "变化"):
        table.add_column(col, justify="right")

    def fmt(x: Any) -> str:
        return "—" if x is None else f"{x:.4f}"

    for key, row in diff["headline"].items():
        table.add_row(key, fmt(row["a"]), fmt(row["b"]), _signed(row["delta"]))
    changed = sorted(
        ((label, r) for label, r in diff["per_class"].items() if r["delta"]),
        key=lambda kv: kv[1]["delta"],
    )
    for label, row in changed[:15]:
        table.add_row(f"F1 {label}", fmt(row["a"]), fmt(row["b"]), _signed(row["delta"]))
    console.print(table)


def _signed(x: float | None) -> str:
    if x is None:
        return "—"
    colour = "green" if x > 0 else "red" if x < 0 else "white"
    return f"[{colour}]{x:+.4f}[/]"


@eval_app.command("dispatch")
def eval_dispatch(
    dataset: Annotated[
        Path, typer.Option(help="金标准集 JSONL（gold：小类、主办、协办、层级、紧急程度、法规）")
    ],
    out: Annotated[Path, typer.Option(help="输出目录")],
    engine: Annotated[str, typer.Option(help="offline / llm")] = "offline",
) -> None:
    """评测整张派单草稿：小类、主办部门、协办、层级、紧急程度、法规引用，并按疑难类型分组。"""
    from rich.progress import Progress

    from evals.dispatch_eval import evaluate_dispatch
    from evals.errors import DatasetError

    if engine not in ("offline", "llm"):
        _fail("engine 只能是 offline 或 llm")
    draft, k, _ = _drafter(engine)
    try:
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("起草", total=None)
            result = evaluate_dispatch(
                dataset,
                k,
                lambda row: draft(row, str(row["text"])),
                out,
                engine=engine,
                progress=lambda n, total: bar.update(task, completed=n, total=total),
            )
    except DatasetError as exc:
        _fail(str(exc))
        return
    table = Table(title=f"派单草稿评测 · {dataset.name}（{result['overall']['cases']} 件）")
    columns = (
        "分组",
        "件数",
        "小类",
        "大类",
        "主办",
        "主办类型",
        "层级",
        "紧急",
        "协办召回",
        "法规全含",
        "全对",
    )
    for col in columns:
        table.add_column(col, justify="right")

    def pct(x: float | None) -> str:
        return "—" if x is None else f"{x:.0%}"

    for name, s in [("全部", result["overall"]), *result["by_tag"].items()]:
        table.add_row(
            name,
            str(s["cases"]),
            *(
                pct(s[key])
                for key in (
                    "subtype",
                    "category",
                    "lead",
                    "lead_type",
                    "level",
                    "urgency",
                    "assist_recall",
                    "articles_all",
                    "all_right",
                )
            ),
        )
    console.print(table)
    console.print(f"结果：{out}/metrics.json、{out}/predictions.jsonl")


@app.command()
def train(
    dataset: Annotated[Path, typer.Option(help="训练数据：CSV、JSONL 或 XLSX")],
    text_col: Annotated[list[str], typer.Option("--text-col", help="正文列（可重复，多列拼接）")],
    label_col: Annotated[str, typer.Option(help="事件小类编码列（如 CA01）")],
) -> None:
    """训练离线分类器并设为当前版本（模型文件按训练数据版本保存在数据目录 models/ 下）。"""
    from agents.classifier import SubtypeClassifier
    from agents.errors import TrainingError
    from knowledge import default_knowledge
    from store.errors import ImportFailed
    from store.importer import read_rows

    try:
        header, rows = read_rows(dataset)
    except ImportFailed as exc:
        _fail(str(exc))
        return
    missing = [c for c in [*text_col, label_col] if c not in header]
    if missing:
        _fail(f"文件中没有列 {', '.join(missing)}；现有列：{', '.join(header)}")
    texts, labels, skipped = [], [], 0
    for _, row in rows:
        if isinstance(row, str):
            skipped += 1
            continue
        text = "。".join(str(row.get(c) or "").strip() for c in text_col).strip("。 ")
        label = str(row.get(label_col) or "").strip()
        if not text or not label:
            skipped += 1
            continue
        texts.append(text)
        labels.append(label)
    k = default_knowledge()
    try:
        clf = SubtypeClassifier.train(k, texts, labels, source=dataset.name)
    except TrainingError as exc:
        _fail(str(exc))
        return
    path = clf.save(get_settings().data_dir / "models")
    console.print(
        f"已训练：{len(texts)} 条样本（跳过 {skipped} 条），{clf.meta['subtypes']} 个小类；"
        f"版本 {clf.version}，已保存 {path}"
    )


@app.command()
def triage(
    text: Annotated[str, typer.Argument(help="事件文本（群众诉求、网格上报、告警）")],
    source: Annotated[
        str, typer.Option(help="来源：hotline/web/grid/ai_video/sensor/referral")
    ] = "hotline",
    district: Annotated[str | None, typer.Option(help="区县名称，如 渝中区")] = None,
    address: Annotated[str | None, typer.Option(help="地址")] = None,
    lat: Annotated[float | None, typer.Option(help="纬度")] = None,
    lon: Annotated[float | None, typer.Option(help="经度")] = None,
    engine: Annotated[
        str, typer.Option(help="offline 或 llm（需配置 SANJI_LLM_BASE_URL）")
    ] = "offline",
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """受理一件事件并起草派单（事件会登记入库，派单等待审核）。"""
    from langgraph.checkpoint.memory import InMemorySaver

    from agents.dispatch import draft_view
    from agents.graph import build_triage_graph
    from agents.runtime import build_deps
    from agents.state import TriageContext
    from domain.models import EventCreate, Source

    try:
        channel = Source(source)
    except ValueError:
        _fail(f"未知的来源「{source}」，可选：{', '.join(s.value for s in Source)}")
        return
    if engine not in ("offline", "llm"):
        _fail("engine 只能是 offline 或 llm")
    if not text.strip():
        _fail("事件文本不能为空")
    settings = get_settings()
    deps = build_deps(settings)
    where = " ".join(x for x in (district, address) if x) or None
    try:
        create = EventCreate(
            source=channel,
            text=text,
            reported_at=datetime.now(UTC),
            address=where,
            lat=lat,
            lon=lon,
        )
    except ValueError as exc:
        _fail(f"输入有误：{exc}")
        return
    event, _ = deps.store.add_event(create, now=datetime.now(UTC), actor="cli")
    graph = build_triage_graph(deps, InMemorySaver())
    out = graph.invoke(
        {"event_id": event.id},
        {"configurable": {"thread_id": f"cli-{event.id}"}},
        context=TriageContext(engine="llm" if engine == "llm" else "offline"),
    )
    view = draft_view(out, deps.knowledge)
    deps.store.close()
    if as_json:
        print(json.dumps(view, ensure_ascii=False, indent=2))
        return
    cat = view["category"]
    console.print(
        f"[bold]事件 {event.id}[/]：{cat['category']}·{cat['name']}（把握 {cat['confidence']:.0%}）  "
        f"{view['urgency']}  {view['level']}"
    )
    console.print(
        f"主办：{view['lead_department']['name']}；协办："
        + ("、".join(a["name"] for a in view["assisting_departments"]) or "无")
    )
    console.print(
        f"时限：签收后 {view['deadlines']['response_hours']:g} 小时响应，{view['deadlines']['disposal_hours']:g} 小时办结"
    )
    for x in view["legal_basis"]:
        console.print(f"依据：《{x['title']}》{x['article']}")
    for n, step in enumerate(view["steps"], 1):
        console.print(f"  {n}. {step}")
    console.print(f"说明：{view['explanation']}")
    if view["needs_human"]:
        console.print("[yellow]需人工确认：[/]" + "；".join(view["needs_human"]))


@app.command()
def review(
    event_id: Annotated[int, typer.Argument(help="事件编号")],
    engine: Annotated[
        str, typer.Option(help="offline 或 llm（需配置 SANJI_LLM_BASE_URL）")
    ] = "offline",
) -> None:
    """打印一件事件的复盘。"""
    from agents.review import summarize_review
    from agents.runtime import build_deps
    from store import NotFound

    deps = build_deps(get_settings())
    try:
        r = summarize_review(deps, event_id, engine=engine)
    except NotFound as exc:
        _fail(str(exc))
        return
    finally:
        deps.store.close()
    console.print(f"[bold]复盘：事件 {r['event_id']}（{r['status_zh']}）[/]")
    for t in r["timeline"]:
        console.print(
            f"  {t['at']}  {t['action']}  {t['actor']}{'：' + t['reason'] if t['reason'] else ''}"
        )
    console.print(r["summary"])


def _users() -> tuple[Any, Any, Any]:
    from knowledge import default_knowledge
    from store import EventStore
    from store.users import Users

    k = default_knowledge()
    store = EventStore.open(get_settings().resolved_database_url, k.store_rules)
    return store, Users(store.db), k


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="用户名（字母、数字）")],
    role: Annotated[
        str,
        typer.Option(
            help="角色：street_officer / district_officer / city_officer / admin / integration"
        ),
    ],
    jurisdiction: Annotated[str, typer.Option(help="辖区名称或编码，如 解放碑街道、渝中区")],
    name: Annotated[str | None, typer.Option(help="显示名")] = None,
    password: Annotated[
        bool, typer.Option("--password/--no-password", help="同时设置登录密码（交互输入）")
    ] = False,
) -> None:
    """新增账号，并签发一个 API Key（只显示这一次）。"""
    from domain.access import Role
    from store import Conflict
    from tools.scope import check_role_jurisdiction, jurisdiction_code

    try:
        r = Role(role)
    except ValueError:
        _fail(f"未知的角色「{role}」，可选：{', '.join(x.value for x in Role)}")
        return
    if not username.replace("_", "").replace("-", "").isalnum() or len(username) > 64:
        _fail("用户名只能包含字母、数字、下划线和连字符，最长 64 个字符")
    store, users, k = _users()
    try:
        code = jurisdiction_code(k, jurisdiction)
        check_role_jurisdiction(k, r, code)
        secret = (
            typer.prompt("密码", hide_input=True, confirmation_prompt=True) if password else None
        )
        user = users.add(
            username,
            role=r,
            jurisdiction=code,
            display_name=name,
            password=secret,
            now=datetime.now(UTC),
        )
        key = users.issue(user.id, "api_key", now=datetime.now(UTC))
    except (KeyError, ValueError, Conflict) as exc:
        _fail(str(exc).strip("'\""))
        return
    finally:
        store.close()
    console.print(
        f"已新增账号 {username}（{r.zh}，{k.jurisdiction(code).name}）。API Key（请妥善保存，只显示这一次）："
    )
    print(key)


@users_app.command("key")
def users_key(username: Annotated[str, typer.Argument(help="用户名")]) -> None:
    """为账号签发新的 API Key（只显示这一次）。"""
    store, users, _ = _users()
    try:
        user = users.find(username)
        if user is None:
            _fail(f"没有账号 {username}")
            return
        key = users.issue(user.id, "api_key", now=datetime.now(UTC))
    finally:
        store.close()
    print(key)


@users_app.command("disable")
def users_disable(username: Annotated[str, typer.Argument(help="用户名")]) -> None:
    """停用账号并吊销它的全部密钥和会话。"""
    from store import NotFound

    store, users, _ = _users()
    try:
        users.set_disabled(username, True)
    except NotFound as exc:
        _fail(str(exc))
    finally:
        store.close()
    console.print(f"已停用 {username}，其密钥和会话已全部吊销。")


@users_app.command("list")
def users_list() -> None:
    """列出全部账号。"""
    store, users, k = _users()
    try:
        rows = users.all()
    finally:
        store.close()
    table = Table("用户名", "显示名", "角色", "辖区", "状态")
    for u in rows:
        place = (
            k.jurisdictions[u.jurisdiction].name
            if u.jurisdiction in k.jurisdictions
            else u.jurisdiction
        )
        table.add_row(
            u.username, u.display_name, u.role.zh, place, "停用" if u.disabled else "正常"
        )
    console.print(table)


@app.command()
def chat(
    username: Annotated[str, typer.Option("--as", help="以哪个账号的身份和辖区提问")],
    thread: Annotated[str, typer.Option(help="会话编号（同一编号延续上下文）")] = "terminal",
    engine: Annotated[str, typer.Option(help="auto / offline / llm")] = "auto",
    message: Annotated[
        str | None, typer.Option("--message", "-m", help="只问这一句（不进入交互）")
    ] = None,
) -> None:
    """在终端里向值班助手提问（输入 exit 退出）。"""
    from agents.chat import ChatAssistant
    from agents.checkpoint import close_checkpointer, open_checkpointer
    from agents.dispatch import Dispatcher
    from agents.runtime import build_deps
    from store.users import Users
    from tools.scope import principal_for

    if engine not in ("auto", "offline", "llm"):
        _fail("engine 只能是 auto、offline 或 llm")
    settings = get_settings()
    deps = build_deps(settings)
    user = Users(deps.store.db).find(username)
    if user is None or user.disabled:
        deps.store.close()
        _fail(f"没有可用的账号 {username}（用 sanji users add 新增）")
        return
    principal = principal_for(deps.knowledge, user)
    saver = open_checkpointer(settings.resolved_database_url, settings.data_dir)
    assistant = ChatAssistant(deps, saver, Dispatcher(deps, saver))
    try:
        while True:
            question = message if message is not None else console.input("[bold]您问[/]：")
            if question.strip() in ("exit", "quit", "退出"):
                break
            if question.strip():
                for chunk in assistant.stream(principal, thread, question, engine=engine):
                    if chunk["type"] == "delta":
                        console.print(chunk["text"], end="", markup=False, highlight=False)
                    elif chunk["type"] == "done":
                        console.print()
                        src = chunk.get("sources", {})
                        cited = [f"E{i}" for i in src.get("events", [])] + [
                            a["citation"] or a["title"] for a in src.get("articles", [])
                        ]
                        if cited:
                            console.print("[dim]出处：" + "、".join(cited) + "[/]")
            if message is not None:
                break
    except (EOFError, KeyboardInterrupt):
        console.print()
    finally:
        close_checkpointer(saver)
        deps.store.close()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="监听地址")] = None,
    port: Annotated[int | None, typer.Option(help="端口")] = None,
    demo: Annotated[bool, typer.Option("--demo/--no-demo", help="数据库为空时导入演示数据")] = True,
) -> None:
    """启动服务（默认：SQLite 嵌入式数据库 + 演示数据）。"""
    import uvicorn

    from knowledge import default_knowledge
    from server import create_app
    from store import EventStore

    settings = get_settings()
    host, port = host or settings.host, port or settings.port
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if demo:
        store = EventStore.open(settings.resolved_database_url, default_knowledge().store_rules)
        empty = store.count_events() == 0
        store.close()
        if empty:
            demo_load(count=640, seed=None)
        from demo.accounts import ensure_demo_accounts

        store = EventStore.open(settings.resolved_database_url, default_knowledge().store_rules)
        lines = ensure_demo_accounts(store.db, default_knowledge(), settings.data_dir)
        store.close()
        console.print("演示账号（用户名 / 密码 / 角色 / 辖区，另存于 data/demo-accounts.txt）：")
        for line in lines:
            console.print("  " + line.replace("\t", " / "), markup=False)
    console.print(
        f"[bold green]Sanji 已启动[/]，请在浏览器打开：[link]http://{host}:{port}/[/link]"
        f"（接口文档 http://{host}:{port}/docs）"
    )
    sys.stdout.flush()
    uvicorn.run(create_app(settings), host=host, port=port, log_level=settings.log_level.lower())


if __name__ == "__main__":
    app()
