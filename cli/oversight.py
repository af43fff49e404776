"""Supervision from the terminal: raise the automatic 督办 of overdue orders now."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from cli.common import console, fail, get_settings


def supervise(
    at: Annotated[
        str | None,
        typer.Option(help="按此时刻检查（ISO 时间，如 2026-05-01T09:00+08:00；默认现在）"),
    ] = None,
) -> None:
    """检查超时工单并按时限规则自动督办（每件工单每一级只督办一次，可重复执行）。"""
    from agents.oversight import sweep_overdue
    from agents.runtime import open_store
    from domain.clock import to_utc
    from knowledge import default_knowledge

    try:
        now = to_utc(datetime.fromisoformat(at)) if at else datetime.now(UTC)
    except ValueError:
        fail(f"无法识别的时间「{at}」，请用 ISO 格式，如 2026-05-01T09:00+08:00")
    k = default_knowledge()
    store = open_store(get_settings(), k)
    try:
        raised = sweep_overdue(store, k, now)
    finally:
        store.close()
    if not raised:
        console.print("没有需要新发起的督办。")
        return
    for r in raised:
        console.print(f"事件 {r['event_id']}：{r['name']}（{r['centre_name']}）")
    console.print(f"共发起 {len(raised)} 项督办。")
