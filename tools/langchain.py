"""Thin LangChain adapters: each deterministic tool as a ``StructuredTool`` with its Chinese
description, bound to the caller's store, knowledge, scope and clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

from domain.models import Scope
from domain.vocabulary import Urgency
from knowledge import Knowledge
from knowledge.retrieval import RegulationIndex
from store import EventStore
from tools import devices, duplicates, events, locate, regulations, routing, stats
from tools.scope import jurisdiction_code


@dataclass(frozen=True)
class ToolDeps:
    store: EventStore
    knowledge: Knowledge
    scope: Scope
    clock: Callable[[], datetime]
    index: RegulationIndex | None = None
    actor: str | None = None  # who asks: sees unlocated events it filed itself
    #: who owns a matter or an event, decided as the drafts decide (subject, jurisdiction
    #: code, event id); supplied by the agent that owns that decision, bound to the caller
    ownership: Callable[[str, str | None, int | None], Any] | None = None


class EventIdArgs(BaseModel):
    event_id: int = Field(description="事件编号")


class DeadlineArgs(BaseModel):
    jurisdiction: str | None = Field(
        default=None, description="街道或区县编码；不填则为本人全部辖区"
    )
    limit: int = Field(default=20, ge=1, le=200)


class DeviceArgs(BaseModel):
    state: Literal["online", "silent", "stuck"] | None = Field(
        default=None, description="online 在线 / silent 离线（含登记后从未上报）/ stuck 数据异常"
    )
    district: str | None = Field(default=None, description="区县编码；不填则为本人全部辖区")
    kind: str | None = Field(default=None, description="设备类型，如 water_quality、ai_video、gas")


class OwnershipArgs(BaseModel):
    """回答「归谁管、哪个部门负责、该派给谁、要不要上报区里、要不要提级」：按与派单草稿相同的分类、定责和升级规则，
    给出主办和协办部门（具体单位及其类型）、承办层级及理由（命中的升级规则编号，或街道层级即可处置的原因）、
    权责清单条目、法规条文和办理时限，并注明每一项的来源。问某件事件时填 event_id，问某类事项时填 subject。"""

    subject: str = Field(
        default="", description="事项的简短描述，如「占道经营」「小区噪音扰民」；问某件事件时可不填"
    )
    jurisdiction: str | None = Field(
        default=None, description="街道或区县编码（或中文全称）；不填则为提问人的辖区"
    )
    event_id: int | None = Field(default=None, description="事件编号：问某件事件时填写")


def _dump(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_dump(v) for v in value]
    return value


def build_tools(deps: ToolDeps) -> list[BaseTool]:
    k, store, scope = deps.knowledge, deps.store, deps.scope

    def search_events(**kw: Any) -> Any:
        return _dump(events.search_events(store, k, scope, events.EventQuery(**kw)))

    def get_event(event_id: int) -> Any:
        return _dump(events.get_event(store, scope, event_id, actor=deps.actor))

    def list_overdue(**kw: Any) -> Any:
        q = events.OverdueQuery(as_of=deps.clock(), **kw)
        return _dump(events.list_overdue(store, k, scope, q))

    def list_due_soon(**kw: Any) -> Any:
        q = events.OverdueQuery(as_of=deps.clock(), **kw)
        return _dump(events.list_due_soon(store, k, scope, q))

    def event_stats(**kw: Any) -> Any:
        return _dump(stats.event_stats(store, k, scope, stats.StatsQuery(**kw)))

    def find_duplicates(**kw: Any) -> Any:
        return _dump(duplicates.find_duplicates(store, k, scope, duplicates.DuplicateQuery(**kw)))

    def locate_place(**kw: Any) -> Any:
        return _dump(locate.locate(k, locate.LocateQuery(**kw)))

    def departments_for(**kw: Any) -> Any:
        return _dump(routing.departments_for(k, routing.DepartmentsQuery(**kw)))

    def sla_for(subtype: str, urgency: Urgency) -> Any:
        return _dump(routing.sla_for(k, routing.SlaQuery(subtype=subtype, urgency=urgency)))

    def device_status(**kw: Any) -> Any:
        q = devices.DeviceQuery(now=deps.clock(), **kw)
        return _dump(devices.device_statuses(store, k, scope, q))

    def tool(
        fn: Callable[..., Any], name: str, doc: str | None, schema: type[BaseModel]
    ) -> BaseTool:
        return StructuredTool.from_function(
            func=fn, name=name, description=(doc or "").strip(), args_schema=schema
        )

    def search_regs(**kw: Any) -> Any:
        assert deps.index is not None
        return _dump(regulations.search_regulations(deps.index, regulations.RegulationQuery(**kw)))

    def article(**kw: Any) -> Any:
        assert deps.index is not None
        return _dump(regulations.get_article(deps.index, regulations.ArticleQuery(**kw)))

    def ownership(
        subject: str = "", jurisdiction: str | None = None, event_id: int | None = None
    ) -> Any:
        assert deps.ownership is not None
        code = jurisdiction_code(k, jurisdiction) if jurisdiction else None
        return _dump(deps.ownership(subject, code, event_id))

    law_tools = []
    if deps.index is not None:
        law_tools = [
            tool(
                search_regs,
                "search_regulations",
                regulations.search_regulations.__doc__,
                regulations.RegulationQuery,
            ),
            tool(article, "get_article", regulations.get_article.__doc__, regulations.ArticleQuery),
        ]
    if deps.ownership is not None:
        law_tools.append(tool(ownership, "ownership", OwnershipArgs.__doc__, OwnershipArgs))
    return [
        *law_tools,
        tool(search_events, "search_events", events.search_events.__doc__, events.EventQuery),
        tool(get_event, "get_event", events.get_event.__doc__, EventIdArgs),
        tool(list_overdue, "list_overdue", events.list_overdue.__doc__, DeadlineArgs),
        tool(list_due_soon, "list_due_soon", events.list_due_soon.__doc__, DeadlineArgs),
        tool(event_stats, "event_stats", stats.event_stats.__doc__, stats.StatsQuery),
        tool(
            find_duplicates,
            "find_duplicates",
            duplicates.find_duplicates.__doc__,
            duplicates.DuplicateQuery,
        ),
        tool(locate_place, "locate", locate.locate.__doc__, locate.LocateQuery),
        tool(
            departments_for,
            "departments_for",
            routing.departments_for.__doc__,
            routing.DepartmentsQuery,
        ),
        tool(sla_for, "sla_for", routing.sla_for.__doc__, routing.SlaQuery),
        tool(device_status, "device_status", devices.device_statuses.__doc__, DeviceArgs),
    ]
