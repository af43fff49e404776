"""``sanji review``: the review of one event (``sanji review 42``) or of a period
(``sanji review period --district 綦江区 --week 2026-W28``), printed and written as PDF/XLSX."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from cli.cases import review as review_event
from cli.common import console, engine_choice, fail, services

FORMATS = ("md", "pdf", "xlsx")


class _EventOrPeriod(TyperGroup):
    """``sanji review 42`` still reviews event 42: a first argument that is not a
    subcommand is the event's number."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # typer vendors click
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["event", *args]
        return super().parse_args(ctx, args)


review_app = typer.Typer(
    cls=_EventOrPeriod,
    help="复盘：一件事件（sanji review 编号）或一个时段（sanji review period）。",
    no_args_is_help=True,
)
review_app.command("event", help="打印一件事件的复盘。")(review_event)


@review_app.command("period")
def period(
    district: Annotated[
        str | None, typer.Option(help="区县名称或编码，如 綦江区 或 500110")
    ] = None,
    street: Annotated[str | None, typer.Option(help="街道（镇）名称或编码")] = None,
    week: Annotated[str | None, typer.Option(help="ISO 周，如 2026-W28")] = None,
    month: Annotated[str | None, typer.Option(help="月份，如 2026-07")] = None,
    start: Annotated[str | None, typer.Option("--from", help="起始日期，如 2026-07-01")] = None,
    end: Annotated[str | None, typer.Option("--to", help="结束日期（含），如 2026-07-15")] = None,
    engine: Annotated[
        str, typer.Option(help="offline 或 llm（需配置 SANJI_LLM_BASE_URL）")
    ] = "offline",
    out: Annotated[Path, typer.Option(help="文件输出目录")] = Path("."),
    formats: Annotated[
        list[str] | None,
        typer.Option("--format", help="输出文件格式 md/pdf/xlsx，可重复；默认 pdf 和 xlsx"),
    ] = None,
) -> None:
    """打印一个时段（周、月或起止日期）的辖区复盘，并导出 PDF 和 XLSX。不填辖区则为全市。"""
    from agents.review_period import review_period
    from domain.models import Scope
    from tools import period_export
    from tools.periods import PeriodQuery, problem
    from tools.scope import jurisdiction_code

    engine = engine_choice(engine, "offline", "llm")
    wanted = formats or ["pdf", "xlsx"]
    for f in wanted:
        if f not in FORMATS:
            fail(f"不支持的格式「{f}」，可选：md、pdf、xlsx")
    if district and street:
        fail("--district 和 --street 只能选一个")
    with services(durable=False) as built:
        code = None
        if district or street:
            try:
                code = jurisdiction_code(built.knowledge, str(district or street))
            except KeyError as exc:
                fail(str(exc.args[0]))
            level = built.knowledge.jurisdiction(code).level
            if district and level != "district":
                fail(f"「{district}」不是区县")
            if street and level != "street":
                fail(f"「{street}」不是街道（镇）")
        try:
            q = PeriodQuery(
                jurisdiction=code,
                week=week,
                month=month,
                start=_day(start),
                end=_day(end),
            )
            report = review_period(built.deps, Scope(everything=True), q, engine=engine)
        except ValueError as exc:
            fail(problem(exc))
    _print(report.facts, report.narrative, report.fallbacks)
    out.mkdir(parents=True, exist_ok=True)
    stem = period_export.file_stem(report.facts)
    for f in wanted:
        path = out / f"{stem}.{f}"
        if f == "md":
            path.write_text(
                period_export.to_markdown(report.facts, report.narrative), encoding="utf-8"
            )
        elif f == "pdf":
            path.write_bytes(period_export.to_pdf(report.facts, report.narrative))
        else:
            path.write_bytes(period_export.to_xlsx(report.facts, report.narrative))
        console.print(f"已导出：{path}")


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"日期「{value}」格式不对，应为 2026-07-01")


def _print(facts: Any, narrative: str, fallbacks: list[str]) -> None:
    from rich.table import Table

    from tools.period_export import sections

    console.print(f"[bold]{facts.jurisdiction_name} {facts.period.label} 复盘[/]")
    console.print(narrative)
    for note in fallbacks:
        console.print(f"[yellow]说明：{note}[/]")
    for title, head, rows in sections(facts):
        table = Table(title=title, title_justify="left", show_lines=False)
        for h in head:
            table.add_column(h)
        for row in rows:
            table.add_row(*(str(v) for v in row))
        if not rows:
            table.add_row(*(["（无）"] + [""] * (len(head) - 1)))
        console.print(table)
