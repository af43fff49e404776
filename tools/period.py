"""``period_review``: the facts of a period review (周/月复盘) for a district, a street or the
whole city: volume and trend against the previous period by category and by street, on-time
rate (deadlines run from 签收), median time to close, returns by department with their reasons,
repeat-complaint hot spots, satisfaction, and the cases most worth discussing with their
timelines. Counts come from ``event_stats``; the rest from the store's scoped queries."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from domain.clock import CHINA_TZ
from domain.lifecycle import Action, Status
from domain.models import Scope
from knowledge import Knowledge
from store import EventStore
from tools.duplicates import KM_PER_DEG
from tools.periods import Period, PeriodQuery, period_of
from tools.scope import narrow
from tools.stats import StatsQuery, event_stats

#: how many reports of one subtype at one place make a hot spot, and how close is one place
HOT_SPOT_MIN = 3
HOT_SPOT_KM = 0.3
CASES = 5


class Trend(BaseModel):
    key: str
    name: str
    count: int = Field(description="本期事件数")
    previous: int = Field(description="上期事件数")
    change: int = Field(description="增减（件）")
    change_pct: float | None = Field(description="增减幅度（%），上期为 0 时为空")


class ReasonCount(BaseModel):
    code: str
    name: str
    count: int


class DepartmentReturns(BaseModel):
    code: str
    name: str
    dispatched: int = Field(description="收到的派单数")
    returned: int = Field(description="退单数")
    return_pct: float = Field(description="退单率（%）")
    reasons: list[ReasonCount] = Field(description="退单原因，多的在前（最多 3 个）")


class HotSpot(BaseModel):
    subtype: str
    subtype_name: str
    street: str | None
    street_name: str
    place: str = Field(description="代表地址")
    count: int = Field(description="本期同一地点同类诉求件数")
    event_ids: list[int]


class TimelineEntry(BaseModel):
    at: str
    action: str
    actor: str
    reason: str | None = None


class Case(BaseModel):
    event_id: int
    title: str
    subtype_name: str
    street_name: str
    status: str
    department: str
    returns: int
    hours_late: float | None = Field(description="超出办结时限的小时数（未超时为空）")
    satisfaction: int | None
    why: list[str] = Field(description="值得讨论的原因")
    timeline: list[TimelineEntry]


class Satisfaction(BaseModel):
    mean: float | None = Field(description="平均满意度（1-5）")
    count: int = Field(description="有回访评分的件数")
    distribution: dict[str, int] = Field(description="各分值件数，键为 1-5")
    low: int = Field(description="1-2 分（不满意）件数")


class PeriodReview(BaseModel):
    jurisdiction: str | None
    jurisdiction_name: str
    period: Period
    as_of: datetime = Field(description="统计截至（UTC），未办结与超时按此时刻计")
    count: int
    previous_count: int
    change: int
    change_pct: float | None
    resolved: int
    open: int
    on_time_pct: float | None = Field(description="按时办结率（%），时限自签收起算")
    timed: int = Field(description="有办结时限且已办结的件数")
    on_time: int
    overdue_open: int = Field(description="截至统计时刻仍未办结且已超时的件数")
    median_hours_to_close: float | None
    previous_median_hours_to_close: float | None
    return_pct: float | None = Field(description="派出事件中发生过退单的比例（%）")
    satisfaction: Satisfaction
    by_category: list[Trend]
    by_area: list[Trend] = Field(description="按街道（全市时按区县）")
    area_level: str = Field(description="street 或 district")
    departments: list[DepartmentReturns]
    hot_spots: list[HotSpot]
    cases: list[Case]


def _pct(ratio: float | None) -> float | None:
    return round(ratio * 100, 1) if ratio is not None else None


def _change_pct(now: int, before: int) -> float | None:
    return round((now - before) / before * 100, 1) if before else None


def _trends(
    store: EventStore, k: Knowledge, scope: Scope, current_q: StatsQuery, before_q: StatsQuery
) -> list[Trend]:
    """Counts per group in this period and the one before, most events first."""
    now = {g.key: g for g in event_stats(store, k, scope, current_q).groups}
    then = {g.key: g for g in event_stats(store, k, scope, before_q).groups}
    trends = []
    for key in {*now, *then}:
        n = now[key].metrics.count if key in now else 0
        p = then[key].metrics.count if key in then else 0
        name = (now.get(key) or then[key]).name
        trends.append(
            Trend(
                key=key, name=name, count=n, previous=p, change=n - p, change_pct=_change_pct(n, p)
            )
        )
    return sorted(trends, key=lambda t: (-t.count, -t.previous, t.key))


def _name(table: dict[str, Any], code: str | None, missing: str = "未确定") -> str:
    if code is None or code == "-":
        return missing
    item = table.get(code)
    return str(getattr(item, "name", code)) if item is not None else code


def _department_returns(
    store: EventStore, k: Knowledge, scope: Scope, period: Period, filters: dict[str, Any]
) -> list[DepartmentReturns]:
    orders = store.dispatched_orders(scope, since=period.since, until=period.until, **filters)
    sent: Counter[str] = Counter()
    returned: Counter[str] = Counter()
    reasons: dict[str, Counter[str]] = defaultdict(Counter)
    for o in orders:
        dept = o["lead_department"]
        sent[dept] += 1
        if o["status"] == "returned":
            returned[dept] += 1
            reasons[dept][o["return_reason_code"] or "-"] += 1
    rows = [
        DepartmentReturns(
            code=dept,
            name=_name(k.departments, dept),
            dispatched=n,
            returned=returned[dept],
            return_pct=round(returned[dept] / n * 100, 1),
            reasons=[
                ReasonCount(code=code, name=_name(k.return_reasons, code, "未说明"), count=c)
                for code, c in sorted(reasons[dept].items(), key=lambda x: (-x[1], x[0]))[:3]
            ],
        )
        for dept, n in sent.items()
    ]
    return sorted(rows, key=lambda d: (-d.returned, -d.return_pct, -d.dispatched, d.code))


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    dx = (b[1] - a[1]) * KM_PER_DEG * math.cos(math.radians((a[0] + b[0]) / 2))
    return math.hypot(dx, (b[0] - a[0]) * KM_PER_DEG)


def _cell(point: tuple[float, float]) -> tuple[int, int]:
    """The grid cell a point lies in: at least HOT_SPOT_KM on each side up to latitude 60°
    (a degree of longitude is KM_PER_DEG times the cosine of the latitude), so whatever is
    within HOT_SPOT_KM lies in the same or a neighbouring cell."""
    side = HOT_SPOT_KM / KM_PER_DEG
    return int(point[0] // side), int(point[1] // (2 * side))


def hot_spots(k: Knowledge, rows: list[dict[str, Any]]) -> list[HotSpot]:
    """Places where one subtype was reported at least HOT_SPOT_MIN times: reports of a subtype
    within HOT_SPOT_KM of a spot's first report (or at the same address, when not located)
    count for that spot; merged second reports count too, as citizens called again. Spots are
    kept by subtype and grid square, so each report is compared with the spots around it only."""
    spots: list[tuple[str, list[dict[str, Any]]]] = []
    by_place: dict[tuple[str, Any], list[tuple[tuple[float, float], int]]] = defaultdict(list)
    by_address: dict[tuple[str, str], int] = {}
    for r in sorted(rows, key=lambda r: (r["reported_at"], r["id"])):
        subtype = r["subtype"]
        if not subtype:
            continue
        if r["lat"] is not None and r["lon"] is not None:
            here = (float(r["lat"]), float(r["lon"]))
            row, col = _cell(here)
            around = (
                spot
                for dr in (-1, 0, 1)
                for dc in (-1, 0, 1)
                for spot in by_place.get((subtype, (row + dr, col + dc)), [])
            )
            found = next((n for first, n in around if _km(first, here) <= HOT_SPOT_KM), None)
            if found is None:
                found = len(spots)
                spots.append((subtype, []))
                by_place[(subtype, (row, col))].append((here, found))
        elif r["address"]:
            found = by_address.setdefault((subtype, r["address"]), len(spots))
            if found == len(spots):
                spots.append((subtype, []))
        else:
            continue
        spots[found][1].append(r)
    hot = []
    for subtype, members in spots:
        if len(members) < HOT_SPOT_MIN:
            continue
        streets = Counter(m["street"] for m in members)
        street = streets.most_common(1)[0][0]
        hot.append(
            HotSpot(
                subtype=subtype,
                subtype_name=_name(k.subtypes, subtype),
                street=street,
                street_name=_name(k.jurisdictions, street, "未定位"),
                place=members[0]["address"] or "",
                count=len(members),
                event_ids=[m["id"] for m in members],
            )
        )
    return sorted(hot, key=lambda h: (-h.count, h.event_ids[0]))


def _local(at: datetime | None) -> str:
    return at.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M") if at else ""


def _timeline(store: EventStore, k: Knowledge, event_id: int) -> list[TimelineEntry]:
    out = []
    for h in store.history(event_id):
        reason = h["reason"]
        if h["reason_code"] in k.return_reasons:
            reason = f"{k.return_reasons[h['reason_code']].name}：{reason or ''}".rstrip("：")
        out.append(
            TimelineEntry(
                at=_local(h["at"]), action=Action(h["action"]).zh, actor=h["actor"], reason=reason
            )
        )
    return out


def _lateness(r: dict[str, Any], as_of: datetime) -> float | None:
    if r["due_at"] is None:
        return None
    end = r["resolved_at"] or as_of
    late = (end - r["due_at"]).total_seconds() / 3600
    return round(late, 1) if late > 0 else None


def cases(
    store: EventStore, k: Knowledge, rows: list[dict[str, Any]], as_of: datetime, limit: int = CASES
) -> list[Case]:
    """The events most worth discussing: returned twice or more, overdue (late or still open
    past the deadline), low satisfaction (1-2), supervised; the most reasons first."""
    scored = []
    for r in rows:
        why, weight = [], 0.0
        late = _lateness(r, as_of)
        if r["returns"] >= 2:
            why.append(f"退单{r['returns']}次")
            weight += 3 + r["returns"]
        if late is not None:
            why.append(f"超时{late}小时" + ("（仍未办结）" if r["resolved_at"] is None else ""))
            weight += 2 + min(late / 24, 3)
        if r["satisfaction"] is not None and r["satisfaction"] <= 2:
            why.append(f"满意度{r['satisfaction']}分")
            weight += 4 - r["satisfaction"]
        if r["supervised"]:
            why.append("被督办")
            weight += 1
        if why:
            scored.append((weight, r, why, late))
    scored.sort(key=lambda s: (-s[0], s[1]["id"]))
    return [
        Case(
            event_id=r["id"],
            title=(r["title"] or r["text"])[:40],
            subtype_name=_name(k.subtypes, r["subtype"], "未分类"),
            street_name=_name(k.jurisdictions, r["street"], "未定位"),
            status=Status(r["status"]).zh,
            department=_name(k.departments, r["lead_department"], "未派单"),
            returns=r["returns"],
            hours_late=late,
            satisfaction=r["satisfaction"],
            why=why,
            timeline=_timeline(store, k, r["id"]),
        )
        for _, r, why, late in scored[:limit]
    ]


def _events(
    store: EventStore, scope: Scope, period: Period, filters: dict[str, Any]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    while True:  # in pages, so a month of a busy city does not come back as one result
        page, _ = store.search(
            scope,
            since=period.since,
            until=period.until,
            limit=5000,
            offset=len(rows),
            count=False,
            **filters,
        )
        rows += page
        if len(page) < 5000:
            return rows


def _scope_name(k: Knowledge, scope: Scope, node: Any, streets: list[str]) -> str:
    """What the review covers: the jurisdiction asked for, or the caller's own streets of it
    (a street officer asking for its district), or the caller's whole scope."""
    if node is not None and node.level == "district" and streets:
        return "、".join(k.jurisdiction(s).name for s in streets)
    if node is not None:
        return str(node.name)
    if scope.everything:
        return "全市"
    return "、".join(k.jurisdiction(c).name for c in (*scope.districts, *scope.streets))


def period_review(
    store: EventStore, k: Knowledge, scope: Scope, q: PeriodQuery, *, now: datetime
) -> PeriodReview:
    """生成一个时段（ISO 周、月或起止日期）的辖区复盘事实：事件量及环比（按大类、按街道）、按时办结率、办结用时中位数、各部门退单率及主要原因、重复诉求热点、满意度、最值得讨论的五件事件及其时间线。"""
    period = period_of(q)
    districts, streets = narrow(k, scope, q.jurisdiction)
    filters = {"districts": districts, "streets": streets}
    node = k.jurisdiction(q.jurisdiction) if q.jurisdiction else None
    city = (node is None and scope.everything) or (node is not None and node.level == "city")
    area = "district" if city else "street"

    def stats_q(before: bool, group: str = "none") -> StatsQuery:
        since, until = (
            (period.previous_since, period.previous_until)
            if before
            else (period.since, period.until)
        )
        return StatsQuery(jurisdiction=q.jurisdiction, since=since, until=until, group_by=group)  # type: ignore[arg-type]

    total = event_stats(store, k, scope, stats_q(False)).total
    before = event_stats(store, k, scope, stats_q(True)).total
    by_category = _trends(store, k, scope, stats_q(False, "category"), stats_q(True, "category"))
    by_area = _trends(store, k, scope, stats_q(False, area), stats_q(True, area))
    rows = _events(store, scope, period, filters)
    scores = Counter(str(r["satisfaction"]) for r in rows if r["satisfaction"] is not None)
    return PeriodReview(
        jurisdiction=node.code if node else None,
        jurisdiction_name=_scope_name(k, scope, node, streets),
        period=period,
        as_of=now,
        count=total.count,
        previous_count=before.count,
        change=total.count - before.count,
        change_pct=_change_pct(total.count, before.count),
        resolved=total.resolved,
        open=total.open,
        on_time_pct=_pct(total.on_time_rate),
        timed=sum(1 for r in rows if r["resolved_at"] and r["due_at"]),
        on_time=sum(
            1 for r in rows if r["resolved_at"] and r["due_at"] and r["resolved_at"] <= r["due_at"]
        ),
        overdue_open=sum(
            1
            for r in rows
            if r["resolved_at"] is None
            and r["due_at"]
            and r["due_at"] < now
            and Status(r["status"]).is_open
        ),
        median_hours_to_close=total.median_hours_to_close,
        previous_median_hours_to_close=before.median_hours_to_close,
        return_pct=_pct(total.return_rate),
        satisfaction=Satisfaction(
            mean=total.satisfaction,
            count=total.satisfaction_count,
            distribution={str(s): scores.get(str(s), 0) for s in range(1, 6)},
            low=scores.get("1", 0) + scores.get("2", 0),
        ),
        by_category=by_category,
        by_area=by_area,
        area_level=area,
        departments=_department_returns(store, k, scope, period, filters),
        hot_spots=hot_spots(k, rows),
        cases=cases(store, k, rows, now),
    )
