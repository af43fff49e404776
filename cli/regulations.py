"""The regulation index: build it, search it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.common import console, fail, get_settings

index_app = typer.Typer(help="法规索引 (regulation index)", no_args_is_help=True)


def configured_index() -> Any:
    """The configured regulation index as it is on disk (possibly empty)."""
    from agents.runtime import open_configured_index

    return open_configured_index(get_settings(), build_if_empty=False)


@index_app.command("build")
def index_build(
    source: Annotated[
        list[Path] | None,
        typer.Option("--source", help="法规目录或文件（可重复）；默认为内置要点库"),
    ] = None,
) -> None:
    """建立或增量更新法规索引：每条条文一个检索单元；未改动的文件不会重复处理。"""
    from rich.table import Table

    from knowledge.retrieval import BUILTIN_DIR, IndexBuildError

    index = configured_index()
    sources = source or [BUILTIN_DIR]
    with console.status("正在建立法规索引…") as status:
        try:
            report = index.build(sources, progress=lambda msg: status.update(msg))
        except IndexBuildError as exc:
            fail(str(exc))
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

    index = configured_index()
    if not index.units:
        fail("法规索引为空，请先运行 sanji index build")
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
        fail(f"参数有误：{exc}")
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
