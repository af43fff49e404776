"""The ``sanji`` command: thin, it calls into the rooms below and prints for officers (zh-CN)."""

from __future__ import annotations

import csv
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

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
app.add_typer(demo_app, name="demo")
app.add_typer(knowledge_app, name="knowledge")
app.add_typer(import_app, name="import")
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
    store = EventStore.open(settings.resolved_database_url, k)
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
    from store.importer import ImportFailed, import_events

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
    store = EventStore.open(settings.resolved_database_url, default_knowledge())
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
        store = EventStore.open(settings.resolved_database_url, default_knowledge())
        empty = store.count_events() == 0
        store.close()
        if empty:
            demo_load(count=640, seed=None)
    console.print(
        f"[bold green]Sanji 已启动[/]，请在浏览器打开：[link]http://{host}:{port}/[/link]"
        f"（接口文档 http://{host}:{port}/docs）"
    )
    sys.stdout.flush()
    uvicorn.run(create_app(settings), host=host, port=port, log_level=settings.log_level.lower())


if __name__ == "__main__":
    app()
