"""``event_stats``: the vital signs of a jurisdiction over a period. Counts are aggregated in
the database; only the hours-to-close distribution comes back to compute percentiles."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from domain.models import Scope
from domain.text import StorableStr
from knowledge import Knowledge
from store import EventStore
from tools.scope import narrow

GroupBy = Literal[
    "none", "category", "subtype", "department", "district", "street", "source", "day", "week"
]
COUNTS = (
    "n",
    "open",
    "resolved",
    "timed",
    "on_time",
    "dispatched",
    "returned",
    "sat_sum",
    "sat_n",
    "duplicates",
)


class StatsQuery(BaseModel):
    jurisdiction: StorableStr | None = Field(
        default=None, description="区县或街道编码；不填则为本人全部辖区"
    )
    since: datetime = Field(description="上报时间起（含）")
    until: datetime = Field(description="上报时间止（不含）")
    category: list[StorableStr] = Field(default=[], description="只统计这些大类")
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


def _ratio(part: int, whole: int, digits: int = 4) -> float | None:
    return round(part / whole, digits) if whole else None


def _metrics(c: dict[str, Any], hours: list[float]) -> Metrics:
    h = np.asarray(hours, dtype=float)
    return Metrics(
        count=c["n"],
        open=c["open"],
        resolved=c["resolved"],
        median_hours_to_close=round(float(np.median(h)), 2) if len(h) else None,
        p90_hours_to_close=round(float(np.percentile(h, 90)), 2) if len(h) else None,
        on_time_rate=_ratio(c["on_time"], c["timed"]),
        return_rate=_ratio(c["returned"], c["dispatched"]),
        satisfaction=_ratio(c["sat_sum"], c["sat_n"], 2),
        satisfaction_count=c["sat_n"],
        duplicates=c["duplicates"],
    )


def _name(k: Knowledge, group_by: str, key: str) -> str:
    tables: dict[str, dict[str, Any]] = {
        "category": k.categories,
        "subtype": k.subtypes,
        "department": k.departments,
        "district": k.jurisdictions,
        "street": k.jurisdictions,
    }
    table = tables.get(group_by, {})
    if key == "-":
        return "未确定"
    item = table.get(key)
    return str(getattr(item, "name", key)) if item is not None else key


def _week(day: str) -> str:
    year, week, _ = date.fromisoformat(day).isocalendar()
    return f"{year}-W{week:02d}"


def event_stats(store: EventStore, k: Knowledge, scope: Scope, q: StatsQuery) -> StatsReport:
    """统计辖区在一段时间内的事件数、办结用时中位数和90分位、按时办结率、退单率、满意度，可按大类、小类、部门、辖区、来源、日或周分组。"""
    districts, streets = narrow(k, scope, q.jurisdiction)
    column = {"department": "lead_department", "week": "day"}.get(q.group_by, q.group_by)
    rows = store.stats_groups(
        scope,
        since=q.since,
        until=q.until,
        group=column,
        districts=districts,
        streets=streets,
        categories=q.category,
    )
    merged: dict[str, dict[str, Any]] = defaultdict(lambda: {c: 0 for c in COUNTS} | {"hours": []})
    total: dict[str, Any] = {c: 0 for c in COUNTS} | {"hours": []}
    for r in rows:
        key = _week(r["k"]) if q.group_by == "week" else str(r["k"])
        for bucket in (merged[key], total):
            for c in COUNTS:
                bucket[c] += int(r[c] or 0)
            bucket["hours"].extend(r["hours"])
    report = StatsReport(since=q.since, until=q.until, total=_metrics(total, total["hours"]))
    if q.group_by != "none":
        report.groups = sorted(
            (
                Group(key=key, name=_name(k, q.group_by, key), metrics=_metrics(c, c["hours"]))
                for key, c in merged.items()
            ),
            key=lambda g: (g.key if q.group_by in ("day", "week") else -g.metrics.count, g.key),
        )
    return report
