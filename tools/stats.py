"""``event_stats``: the vital signs of a jurisdiction over a period."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from domain.models import Scope
from knowledge import Knowledge
from store import EventStore
from store.db import CHINA_TZ
from tools.scope import narrow

GroupBy = Literal[
    "none", "category", "subtype", "department", "district", "street", "source", "day", "week"
]
OPEN = {
    "received",
    "triaged",
    "dispatched",
    "accepted",
    "returned",
    "in_progress",
    "extension_requested",
}


class StatsQuery(BaseModel):
    jurisdiction: str | None = Field(
        default=None, description="区县或街道编码；不填则为本人全部辖区"
    )
    since: datetime = Field(description="上报时间起（含）")
    until: datetime = Field(description="上报时间止（不含）")
    category: list[str] = Field(default=[], description="只统计这些大类")
    group_by: GroupBy = Field(
        default="none", description="分组：大类/小类/主办部门/区县/街道/来源/日/周"
    )


class Metrics(BaseModel):
    count: int = Field(description="事件数")
    open: int = Field(description="未办结数")
    resolved: int = Field(description="已办结数")
    median_hours_to_close: float | None = Field(description="办结用时中位数（小时，自上报起）")
    p90_hours_to_close: float | None = Field(description="办结用时90分位（小时）")
    on_time_rate: float | None = Field(description="按时办结率：签收后在时限内办结的比例")
    return_rate: float | None = Field(description="退单率：派出的事件中发生过退单的比例")
    satisfaction: float | None = Field(description="平均满意度（1-5）")
    satisfaction_count: int
    duplicates: int = Field(description="合并的重复件数")


class Group(BaseModel):
    key: str
    name: str
    metrics: Metrics


class StatsReport(BaseModel):
    since: datetime
    until: datetime
    total: Metrics
    groups: list[Group] = []


def _metrics(rows: list[dict[str, Any]]) -> Metrics:
    hours = np.array(
        [
            (r["resolved_at"] - r["reported_at"]).total_seconds() / 3600
            for r in rows
            if r["resolved_at"] is not None
        ],
        dtype=float,
    )
    timed = [r for r in rows if r["resolved_at"] is not None and r["due_at"] is not None]
    dispatched = [r for r in rows if r["lead_department"] is not None]
    scores = [r["satisfaction"] for r in rows if r["satisfaction"] is not None]
    return Metrics(
        count=len(rows),
        open=sum(r["status"] in OPEN for r in rows),
        resolved=len(hours),
        median_hours_to_close=round(float(np.median(hours)), 2) if len(hours) else None,
        p90_hours_to_close=round(float(np.percentile(hours, 90)), 2) if len(hours) else None,
        on_time_rate=round(sum(r["resolved_at"] <= r["due_at"] for r in timed) / len(timed), 4)
        if timed
        else None,
        return_rate=round(sum(r["returns"] > 0 for r in dispatched) / len(dispatched), 4)
        if dispatched
        else None,
        satisfaction=round(sum(scores) / len(scores), 2) if scores else None,
        satisfaction_count=len(scores),
        duplicates=sum(r["duplicate_of"] is not None for r in rows),
    )


def _keyer(k: Knowledge, group_by: GroupBy) -> Callable[[dict[str, Any]], tuple[str, str]]:
    def name_of(table: dict[str, Any], code: str | None) -> str:
        if code is None:
            return "未确定"
        item = table.get(code)
        return getattr(item, "name", code) if item is not None else code

    def local(r: dict[str, Any]) -> datetime:
        return r["reported_at"].astimezone(CHINA_TZ)

    keyers: dict[str, Callable[[dict[str, Any]], tuple[str, str]]] = {
        "category": lambda r: (r["category"] or "-", name_of(k.categories, r["category"])),
        "subtype": lambda r: (r["subtype"] or "-", name_of(k.subtypes, r["subtype"])),
        "department": lambda r: (
            r["lead_department"] or "-",
            name_of(k.departments, r["lead_department"]),
        ),
        "district": lambda r: (r["district"] or "-", name_of(k.jurisdictions, r["district"])),
        "street": lambda r: (r["street"] or "-", name_of(k.jurisdictions, r["street"])),
        "source": lambda r: (r["source"], r["source"]),
        "day": lambda r: (local(r).strftime("%Y-%m-%d"),) * 2,
        "week": lambda r: ("{}-W{:02d}".format(*local(r).isocalendar()[:2]),) * 2,
    }
    return keyers[group_by]


def event_stats(store: EventStore, k: Knowledge, scope: Scope, q: StatsQuery) -> StatsReport:
    """统计辖区在一段时间内的事件数、办结用时中位数和90分位、按时办结率、退单率、满意度，可按大类、小类、部门、辖区、来源、日或周分组。"""
    districts, streets = narrow(k, scope, q.jurisdiction)
    rows = store.stats_rows(
        scope,
        since=q.since,
        until=q.until,
        districts=districts,
        streets=streets,
        categories=q.category,
    )
    report = StatsReport(since=q.since, until=q.until, total=_metrics(rows))
    if q.group_by != "none":
        key = _keyer(k, q.group_by)
        buckets: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for r in rows:
            buckets[key(r)].append(r)
        report.groups = sorted(
            (
                Group(key=code, name=name, metrics=_metrics(items))
                for (code, name), items in buckets.items()
            ),
            key=lambda g: (g.key if q.group_by in ("day", "week") else -g.metrics.count, g.key),
        )
    return report
