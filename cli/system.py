"""Commands about the installation itself: version, doctor, knowledge check, serve."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import console, fail, get_settings

if TYPE_CHECKING:
    from knowledge import Knowledge
    from settings import Settings
    from store import EventStore

knowledge_app = typer.Typer(help="知识库文件 (knowledge files)", no_args_is_help=True)


def version() -> None:
    """显示版本 (show the version)."""
    from settings import app_version

    console.print(f"sanji {app_version()}")


def doctor() -> None:
    """检查各部分是否可用：配置、知识库、数据库、向量索引、嵌入模型、大模型 (check every part)."""
    from rich.table import Table

    from cli.doctor import run_checks

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
    """校验知识文件（辖区、部门与权责清单、事件分类、时限、升级规则、感知设备与告警规则、河网）。"""
    from knowledge import KnowledgeError, load_knowledge

    try:
        k = load_knowledge(directory)
    except KnowledgeError as exc:
        fail(str(exc))
    console.print(
        f"[green]知识文件校验通过[/]：{len(k.districts())} 个区县，{len(k.streets())} 个街道（镇），"
        f"{len(k.departments)} 个部门，{len(k.duties)} 条权责，{len(k.categories)} 个大类，"
        f"{len(k.subtypes)} 个小类，{len(k.escalation_rules)} 条升级规则，"
        f"{len(k.sensing.kinds)} 类感知设备，{len(k.sensing.rules)} 条告警规则，"
        f"{len(k.sensing.devices)} 台登记设备，"
        f"{len(k.rivers.nodes)} 个河网节点（{len(k.rivers.stations)} 个水质站在河网上）。"
    )


def serve(
    host: Annotated[str | None, typer.Option(help="监听地址")] = None,
    port: Annotated[int | None, typer.Option(help="端口")] = None,
    demo: Annotated[bool, typer.Option("--demo/--no-demo", help="数据库为空时导入演示数据")] = True,
) -> None:
    """启动服务（默认：SQLite 嵌入式数据库 + 演示数据）。"""
    import uvicorn

    from server import create_staged_app

    settings = get_settings()
    host, port = host or settings.host, port or settings.port
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    console.print(
        f"[bold green]Sanji 已启动[/]，请在浏览器打开：[link]http://{host}:{port}/[/link]"
        f"（接口文档 http://{host}:{port}/docs）"
    )
    console.print("正在后台准备事件库、法规索引和分类模型；准备好之前页面显示「正在准备…」。")
    sys.stdout.flush()
    app = create_staged_app(settings, prepare=_demo_data(settings) if demo else None)
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower())


def _demo_data(settings: Settings) -> Callable[[EventStore, Knowledge], None]:
    """What ``serve`` does once the store is open: the demo events when the store is empty,
    and the demo accounts, printed for the officer who started it."""

    def prepare(store: EventStore, knowledge: Knowledge) -> None:
        from datetime import UTC, datetime

        from demo.accounts import ensure_demo_accounts
        from demo.load import load_demo
        from demo.period_week import PERIOD_DISTRICT

        if store.count_events() == 0:  # and last week in 綦江区 worth a period review
            result = load_demo(
                store,
                knowledge,
                seed=settings.demo_seed,
                now=datetime.now(UTC),
                count=640,
                period_week=PERIOD_DISTRICT,
            )
            console.print(
                f"演示数据：新增 {result['created']} 件，流转记录 {result['transitions']} 条。"
            )
        lines = ensure_demo_accounts(store.db, knowledge, settings.data_dir)
        console.print("演示账号（用户名 / 密码 / 角色 / 辖区，另存于 data/demo-accounts.txt）：")
        for line in lines:
            console.print("  " + line.replace("\t", " / "), markup=False)
        sys.stdout.flush()

    return prepare
