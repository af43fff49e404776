"""Working on cases: triage one event, review one, ask the assistant."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from cli.common import console, engine_choice, err, fail, services, source_choice


def triage(
    text: Annotated[
        str | None, typer.Argument(help="事件文本（群众诉求、网格上报、告警）；用 --file 时不写")
    ] = None,
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
    file: Annotated[
        str | None,
        typer.Option(
            "--file",
            help="批量受理：JSONL 文件（- 为标准输入），每行一件事件，如 "
            '{"text": "…", "district": "渝中区", "address": "…"}；每行输出一个 JSON 结果',
        ),
    ] = None,
) -> None:
    """受理一件事件并起草派单（事件会登记入库，派单等待审核）。"""
    channel = source_choice(source)
    engine = engine_choice(engine, "offline", "llm")
    if file is not None:
        if text is not None:
            fail("用 --file 批量受理时不要再写事件文本")
        _triage_file(file, channel.value, engine)
        return
    if text is None or not text.strip():
        fail("事件文本不能为空")
    from domain.models import EventCreate

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
        fail(f"输入有误：{exc}")
    with services() as built:
        event, _ = built.store.add_event(create, now=datetime.now(UTC), actor="cli")
        # the draft waits for approval in the durable checkpointer, as one filed over the API
        view = built.dispatcher.triage(event.id, by="cli", engine=engine)  # type: ignore[arg-type]
    if as_json:
        print(json.dumps(view, ensure_ascii=False, indent=2, default=str))
        return
    _print_draft(view)


def _triage_file(path: str, source: str, engine: str) -> None:
    """``--file``: one JSON result per line on stdout, the summary on stderr; exit 1 when a
    line failed (after all of them were tried)."""
    import sys
    from contextlib import ExitStack
    from pathlib import Path

    from cli.batch import numbered_lines, triage_lines
    from store import StoreError

    def emit(result: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(result, ensure_ascii=False, default=str) + "\n")
        sys.stdout.flush()

    if path != "-" and not Path(path).is_file():
        fail(f"找不到文件 {path}")
    with ExitStack() as stack:
        stream = sys.stdin.buffer if path == "-" else stack.enter_context(Path(path).open("rb"))
        built = stack.enter_context(services())
        try:
            summary = triage_lines(
                built, numbered_lines(stream), source=source, engine=engine, emit=emit
            )
        except StoreError as exc:
            fail(f"数据库不可用，批量受理已停止：{exc}")
    err.print(summary.text(), markup=False, highlight=False)
    if summary.failed:
        raise typer.Exit(1)


def _print_draft(view: dict[str, Any]) -> None:
    cat = view["category"]
    console.print(
        f"[bold]事件 {view['event_id']}[/]：{cat['category']}·{cat['name']}（把握 {cat['confidence']:.0%}）  "
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


def review(
    event_id: Annotated[int, typer.Argument(help="事件编号")],
    engine: Annotated[
        str, typer.Option(help="offline 或 llm（需配置 SANJI_LLM_BASE_URL）")
    ] = "offline",
) -> None:
    """打印一件事件的复盘。"""
    from agents.review import summarize_review
    from store import NotFound

    engine = engine_choice(engine, "offline", "llm")
    with services(durable=False) as built:
        try:
            r = summarize_review(built.deps, event_id, engine=engine)
        except NotFound as exc:
            fail(str(exc))
    console.print(f"[bold]复盘：事件 {r['event_id']}（{r['status_zh']}）[/]")
    for t in r["timeline"]:
        console.print(
            f"  {t['at']}  {t['action']}  {t['actor']}{'：' + t['reason'] if t['reason'] else ''}"
        )
    console.print(r["summary"])


def chat(
    username: Annotated[str, typer.Option("--as", help="以哪个账号的身份和辖区提问")],
    thread: Annotated[str, typer.Option(help="会话编号（同一编号延续上下文）")] = "terminal",
    engine: Annotated[str, typer.Option(help="auto / offline / llm")] = "auto",
    message: Annotated[
        str | None, typer.Option("--message", "-m", help="只问这一句（不进入交互）")
    ] = None,
) -> None:
    """在终端里向值班助手提问（输入 exit 退出）。"""
    from store.users import Users
    from tools.scope import principal_for

    engine = engine_choice(engine, "auto", "offline", "llm")
    with services() as built:
        user = Users(built.store.db).find(username)
        if user is None or user.disabled:
            fail(f"没有可用的账号 {username}（用 sanji users add 新增）")
        if user.role.value == "department":
            fail("部门经办人账号不提供值班助手，请在控制台的本部门工单中办理。")
        _converse(built.chat, principal_for(built.knowledge, user), thread, engine, message)


def _converse(
    assistant: Any, principal: Any, thread: str, engine: str, message: str | None
) -> None:
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
