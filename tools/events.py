"""Event tools: search, get with history, overdue and due-soon lists. Every tool takes the
caller's scope and never returns an event outside it; personal information is masked."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from domain.clock import to_utc
from domain.errors import OutOfScope
from domain.lifecycle import Status
from domain.models import DispatchOrder, Event, Scope, Source
from domain.text import StorableStr
from knowledge import Knowledge
from store import EventStore
from tools.pii import (
    mask_attributes,
    mask_deep,
    mask_name,
    mask_phone,
    mask_text,
    probes_personal,
)
from tools.scope import foreign_duplicates, narrow, visible_event, without_events

EXCERPT = 120


class EventSummary(BaseModel):
    id: int
    source: str
    title: str | None
    excerpt: str = Field(description="正文摘要（已脱敏）")
    reported_at: datetime
    address: str | None
    lat: float | None
    lon: float | None
    status: str
    status_zh: str
    street: str | None
    district: str | None
    category: str | None
    subtype: str | None
    urgency: str
    supervised: bool
    duplicate_of: int | None
    lead_department: str | None
    returns: int
    accepted_at: datetime | None
    due_at: datetime | None
    due_soon_at: datetime | None
    resolved_at: datetime | None
    satisfaction: int | None
    hours_overdue: float | None = Field(default=None, description="超时小时数（截至查询时刻）")


def summarize(row: dict[str, Any], as_of: datetime | None = None) -> EventSummary:
    text = mask_text(" ".join(row["text"].split()))
    overdue = None
    if (
        as_of
        and row.get("due_at")
        and row["status"] in ("accepted", "in_progress", "extension_requested")
    ):
        late = (as_of - row["due_at"]).total_seconds() / 3600
        overdue = round(late, 1) if late > 0 else None
    return EventSummary(
        id=row["id"],
        source=row["source"],
        title=mask_text(row["title"]) if row["title"] else None,
        excerpt=text[:EXCERPT] + ("…" if len(text) > EXCERPT else ""),
        reported_at=row["reported_at"],
        address=row["address"],
        lat=row["lat"],
        lon=row["lon"],
        status=row["status"],
        status_zh=Status(row["status"]).zh,
        street=row["street"],
        district=row["district"],
        category=row["category"],
        subtype=row["subtype"],
        urgency=row["urgency"],
        supervised=row["supervised"],
        duplicate_of=row["duplicate_of"],
        lead_department=row["lead_department"],
        returns=row["returns"],
        accepted_at=row["accepted_at"],
        due_at=row["due_at"],
        due_soon_at=row.get("due_soon_at"),
        resolved_at=row["resolved_at"],
        satisfaction=row["satisfaction"],
        hours_overdue=overdue,
    )


class EventQuery(BaseModel):
    jurisdiction: StorableStr | None = Field(
        default=None, description="区县或街道编码；不填则为本人全部辖区"
    )
    category: list[StorableStr] = Field(default=[], description="大类编码，如 CA、EN")
    subtype: list[StorableStr] = Field(default=[], description="小类编码，如 CA01")
    status: list[Status] = Field(default=[], description="状态，如 dispatched、in_progress")
    source: list[Source] = Field(
        default=[], description="来源渠道 hotline/web/grid/ai_video/sensor/referral"
    )
    since: datetime | None = Field(default=None, description="上报时间起（含）")
    until: datetime | None = Field(default=None, description="上报时间止（不含）")
    text: StorableStr | None = Field(
        default=None, max_length=100, description="正文、标题或地址包含的文字"
    )
    supervised: bool | None = Field(default=None, description="只看督办件")
    limit: int = Field(default=20, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class EventPage(BaseModel):
    total: int
    items: list[EventSummary]
    limit: int
    offset: int


def search_events(
    store: EventStore, k: Knowledge, scope: Scope, q: EventQuery, *, reveal_personal: bool = False
) -> EventPage:
    """按辖区、分类、状态、来源、时间和关键词查询事件，最新的在前，分页返回。"""
    probed = None if reveal_personal else probes_personal(q.text)
    if probed:
        raise OutOfScope(
            f"按{probed}检索需要具备查看个人信息的权限：您看到的{probed}已脱敏，"
            "不能用它们查找或核对事件"
        )
    masked_search = bool(q.text) and not reveal_personal
    districts, streets = narrow(k, scope, q.jurisdiction)
    rows, total = store.search(
        scope,
        districts=districts,
        streets=streets,
        categories=q.category,
        subtypes=q.subtype,
        statuses=[s.value for s in q.status],
        sources=[s.value for s in q.source],
        since=q.since,
        until=q.until,
        text=q.text,
        supervised=q.supervised,
        limit=MASKED_SEARCH_MAX + 1 if masked_search else q.limit,
        offset=0 if masked_search else q.offset,
        count=not masked_search,
    )
    if masked_search:  # the text must be found in what the caller sees, not behind the mask
        if len(rows) > MASKED_SEARCH_MAX:
            raise OutOfScope(
                f"关键词「{q.text}」匹配的事件超过 {MASKED_SEARCH_MAX} 件：您的角色只能在脱敏后的"
                "文本中检索，请加上辖区、时间、分类等条件缩小范围"
            )
        rows = [r for r in rows if _seen(r, q.text or "")]
        total, rows = len(rows), rows[q.offset : q.offset + q.limit]
    return EventPage(
        total=total or 0, items=[summarize(r) for r in rows], limit=q.limit, offset=q.offset
    )


#: a caller who may not see personal information searches the masked texts; the database
#: narrows by the raw text first, at most this many candidates are masked and compared
MASKED_SEARCH_MAX = 5000


def _seen(row: dict[str, Any], text: str) -> bool:
    """Whether ``text`` occurs in the row as a caller without personal information sees it
    (ASCII case ignored, as SQLite's LIKE does)."""
    needle = text.casefold()
    return any(
        needle in field.casefold()
        for field in (mask_text(row["text"]), mask_text(row["title"] or ""), row["address"] or "")
    )


class EventDetail(BaseModel):
    event: Event
    history: list[dict[str, Any]]
    orders: list[DispatchOrder]


def get_event(
    store: EventStore,
    scope: Scope,
    event_id: int,
    *,
    actor: str | None = None,
    reveal_personal: bool = False,
) -> EventDetail:
    """取一件事件的全部信息：原文、流转记录和派单。辖区外的事件视为不存在。"""
    event = visible_event(store, scope, actor, event_id)
    history, orders = store.history(event_id), store.orders(event_id)
    hidden = foreign_duplicates(store, scope, actor, store.decisions(event_id))
    history = without_events(history, hidden)
    orders = [DispatchOrder.model_validate(without_events(o.model_dump(), hidden)) for o in orders]
    if not reveal_personal:
        event = mask_event(event)
        history = mask_deep(history)
        orders = [DispatchOrder.model_validate(mask_deep(o.model_dump())) for o in orders]
    return EventDetail(event=event, history=history, orders=orders)


def mask_event(event: Event) -> Event:
    """The event with names, phone numbers and ID numbers masked, in every text field."""
    return event.model_copy(
        update={
            "text": mask_text(event.text),
            "title": mask_text(event.title) if event.title else None,
            "reporter_phone": mask_phone(event.reporter_phone),
            "reporter_name": mask_name(event.reporter_name),
            "attributes": mask_attributes(event.attributes),
        }
    )


class OverdueQuery(BaseModel):
    jurisdiction: str | None = Field(
        default=None, description="街道或区县编码；不填则为本人全部辖区"
    )
    as_of: datetime = Field(description="以此时刻判断是否超时")
    limit: int = Field(default=50, ge=1, le=500)


def list_overdue(
    store: EventStore, k: Knowledge, scope: Scope, q: OverdueQuery
) -> list[EventSummary]:
    """列出截至 as_of 已超过办理时限的事件（时限自签收起算），最早到期的在前。"""
    sub, as_of = _sub_scope(k, scope, q.jurisdiction), to_utc(q.as_of)
    return [summarize(r, as_of) for r in store.overdue(sub, as_of=as_of, limit=q.limit)]


def list_due_soon(
    store: EventStore, k: Knowledge, scope: Scope, q: OverdueQuery
) -> list[EventSummary]:
    """列出截至 as_of 即将到期（剩余时间不足办理时限的两成）但尚未超时的事件，最早到期的在前。"""
    sub, as_of = _sub_scope(k, scope, q.jurisdiction), to_utc(q.as_of)
    return [summarize(r, as_of) for r in store.due_soon(sub, as_of=as_of, limit=q.limit)]


def _sub_scope(k: Knowledge, scope: Scope, jurisdiction: str | None) -> Scope:
    districts, streets = narrow(k, scope, jurisdiction)
    if not districts and not streets:
        return scope
    return Scope(districts=tuple(districts), streets=tuple(streets))
