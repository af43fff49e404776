"""Review summarizer (复盘): for a closed or returned event, the timeline, deadlines met or
missed, returns and why, satisfaction and what to improve, as structured fields and a short
Chinese review. A second graph, one node; the offline engine is rules over the store."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from agents.deps import AgentDeps, audit
from agents.llm import Usage
from agents.planner import unknown_units
from domain.clock import CHINA_TZ
from domain.lifecycle import Action, Status
from prompts import Prompt, load


class ReviewState(TypedDict, total=False):
    event_id: int
    review: dict[str, Any]


def _local(at: datetime | None) -> str | None:
    return at.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M") if at else None


def _hours(a: datetime | None, b: datetime | None) -> float | None:
    return round((b - a).total_seconds() / 3600, 1) if a and b else None


def summarize_review(deps: AgentDeps, event_id: int, engine: str = "offline") -> dict[str, Any]:
    started = time.perf_counter()
    k, store = deps.knowledge, deps.store
    event = store.get_event(event_id)
    history = store.history(event_id)
    orders = store.orders(event_id)
    timeline = [
        {
            "at": _local(h["at"]),
            "action": Action(h["action"]).zh,
            "actor": h["actor"],
            "reason": h["reason"],
        }
        for h in history
    ]
    returns = [h for h in history if h["action"] == Action.RETURN.value]
    return_reasons = [
        k.return_reasons[h["reason_code"]].name
        if h["reason_code"] in k.return_reasons
        else str(h["reason_code"])
        for h in returns
    ]
    extensions = sum(h["action"] == Action.APPROVE_EXTENSION.value for h in history)
    late = _hours(event.due_at, event.resolved_at) if event.due_at and event.resolved_at else None
    open_overdue = (
        _hours(event.due_at, deps.clock()) if event.due_at and not event.resolved_at else None
    )
    on_time = None if late is None else late <= 0
    subtype = k.subtypes[event.subtype].name if event.subtype else "未分类"
    place = (
        k.jurisdictions[event.street].name
        if event.street and event.street in k.jurisdictions
        else "未定位"
    )
    lead = (
        k.departments[event.lead_department].name
        if event.lead_department in k.departments
        else "未派单"
    )

    improve = []
    if returns:
        wrong = [
            k.departments[o.lead_department].name
            for o in orders[:-1]
            if o.lead_department in k.departments
        ]
        improve.append(
            f"发生{len(returns)}次退单（{'、'.join(return_reasons)}），首派给了{'、'.join(wrong) or '其他单位'}；"
            f"建议把该类事件的主办单位写入权责清单的界定说明，并用改派结果训练分拨模型"
        )
    if on_time is False:
        improve.append(f"签收后超出办结时限{late}小时，建议分析延误环节，必要时提前申请延期")
    if open_overdue and open_overdue > 0:
        improve.append(f"至今未办结，已超时{open_overdue}小时，建议督办")
    if event.satisfaction is not None and event.satisfaction <= 2:
        improve.append("回访不满意，建议复核处置结果并向诉求人说明")
    if event.supervised:
        improve.append("该事件曾被督办，需在考核中关注")
    if not improve:
        improve.append("处置及时、闭环完整，可作为同类事件的参考")

    deadline = (
        ("按时办结" if on_time else f"超时{late}小时办结")
        if on_time is not None
        else (
            f"未办结，已超时{open_overdue}小时" if open_overdue and open_overdue > 0 else "未办结"
        )
    )
    summary = (
        f"{_local(event.reported_at)}，{place}报来一件「{subtype}」（编号{event.id}），主办{lead}。"
        f"从受理到办结{_hours(event.reported_at, event.resolved_at) or '—'}小时，{deadline}"
        f"{'，退单' + str(len(returns)) + '次' if returns else ''}"
        f"{'，满意度' + str(event.satisfaction) + '分' if event.satisfaction else ''}。"
        f"改进：{'；'.join(improve)}。"
    )
    review = {
        "event_id": event.id,
        "status": event.status.value,
        "status_zh": Status(event.status).zh,
        "subtype": event.subtype,
        "subtype_name": subtype,
        "street": place,
        "lead_department": lead,
        "timeline": timeline,
        "hours": {
            "to_dispatch": _hours(event.reported_at, event.dispatched_at),
            "to_accept": _hours(event.dispatched_at, event.accepted_at),
            "to_resolve": _hours(event.reported_at, event.resolved_at),
        },
        "deadline": {
            "due_at": _local(event.due_at),
            "resolved_at": _local(event.resolved_at),
            "on_time": on_time,
            "hours_late": late if on_time is False else None,
            "extensions": extensions,
        },
        "returns": {"count": len(returns), "reasons": return_reasons},
        "satisfaction": event.satisfaction,
        "supervised": event.supervised,
        "improvements": improve,
        "summary": summary,
    }
    used, prompt, usage = "offline", None, Usage()
    fallbacks: list[str] = []
    if engine == "llm" and deps.llm is not None:
        prompt = load("review.summarize")
        written = _ask_llm(deps, prompt, usage, review, fallbacks)
        if written is not None:
            review["summary"], review["improvements"], used = (
                written.summary,
                written.improvements,
                "llm",
            )
    review["engine"] = used
    audit(
        deps,
        event_id=event.id,
        run_id=f"review-{event.id}",
        agent="review",
        engine=used,
        inputs={"event_id": event.id},
        output={"summary": review["summary"]},
        started=started,
        fallbacks=fallbacks,
        prompt=prompt,
        usage=usage,
    )
    return review


class Written(BaseModel):
    summary: str = Field(min_length=10, max_length=400)
    improvements: list[str] = Field(min_length=1, max_length=4)


def _ask_llm(
    deps: AgentDeps, prompt: Prompt, usage: Usage, review: dict[str, Any], fallbacks: list[str]
) -> Written | None:
    facts = {
        key: review[key]
        for key in (
            "subtype_name",
            "street",
            "lead_department",
            "timeline",
            "hours",
            "deadline",
            "returns",
            "satisfaction",
            "supervised",
        )
    }
    units = {review["lead_department"], *(t["actor"] for t in review["timeline"])}

    def check(w: Written) -> list[str]:
        text = w.summary + "".join(w.improvements)
        unknown = unknown_units(text, units)
        return [f"出现了事实中没有的单位：{'、'.join(unknown)}"] if unknown else []

    assert deps.llm is not None
    return deps.llm.ask_or_fall_back(
        prompt,
        Written,
        usage,
        fallbacks,
        "大模型撰写复盘失败，使用模板",
        check=check,
        facts=json.dumps(facts, ensure_ascii=False, indent=1),
    )


def build_review_graph(deps: AgentDeps, checkpointer: Any = None) -> Any:
    def review_event(state: ReviewState) -> dict[str, Any]:
        return {"review": summarize_review(deps, state["event_id"])}

    builder = StateGraph(ReviewState)
    builder.add_node("summarize_review", review_event)
    builder.add_edge(START, "summarize_review")
    builder.add_edge("summarize_review", END)
    return builder.compile(checkpointer=checkpointer, name="sanji-review")
