"""Who owns it, at which level and why: the answer to 「占道经营归谁管」「123号事件该派给谁」
「要不要上报区里」, made from the same decisions a dispatch draft makes.

A question about a kind of matter is drafted like an event whose text is the question's
subject, at a street: the intake classifier, ``route_event`` (``departments_for`` and
``escalate``), the policy retrieval and the planner's deadlines, the very node functions of the
triage graph, with nothing stored and no duplicate counted (a question is not a report). A
question about a stored event reads that event's waiting draft, else its last dispatch order,
else drafts it the same way (its own record is not its duplicate). Nothing here names a
department or a level: they come from the knowledge through those functions."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from agents import intake, planner, policy, routing
from agents.chat.ownership_model import Ownership, from_order, from_view
from agents.deps import AgentDeps
from agents.dispatch import draft_view, for_caller
from agents.state import TriageContext
from domain.access import Principal
from domain.models import Event as StoredEvent
from domain.models import EventCreate
from domain.vocabulary import Level
from knowledge import Knowledge
from tools.scope import narrow

RUN_ID = "chat-ownership"


# ----------------------------------------------------------------------------- the place


def resolve_place(k: Knowledge, principal: Principal, named: str | None) -> tuple[str, str]:
    """The street the answer is for, and how it was chosen: the place the question names
    (within the asker's scope, else ``OutOfScope``), else the asker's own street; a district
    or the city is answered for one of its streets, named in the note."""
    if named is not None:
        narrow(k, principal.scope, named)  # the chat's scope rule: OutOfScope outside it
    code = named or principal.jurisdiction
    node = k.jurisdiction(code)
    street = k.ancestor_at(code, "street")
    whose = "问题中的" if named else "您的辖区"
    if street is not None:
        return street.code, f"按{whose}{street.name}作答"
    own = k.ancestor_at(principal.jurisdiction, "street")
    if own is not None and k.within(own.code, node.code):
        return own.code, f"{whose}{node.name}未指明街道（镇），按您所在的{own.name}作答"
    pick = _example_street(k, principal, node.code)
    district = k.jurisdiction(pick.parent or "")
    return pick.code, (
        f"{whose}{node.name}未指明街道（镇），以下以{district.name}{pick.name}为一般街道示例作答；"
        "其他街道的主办单位类型相同，单位名称随街道而变"
    )


def _example_street(k: Knowledge, principal: Principal, code: str) -> Any:
    """The first street (by code, a 街道 before a 镇) under ``code`` that the asker may see."""
    node = k.jurisdiction(code)
    districts = [node] if node.level == "district" else sorted(k.districts(), key=lambda d: d.code)
    for d in districts:
        streets = [s for s in k.streets(d.code) if principal.scope.allows(s.parent, s.code)]
        streets.sort(key=lambda s: (s.kind != "street", s.code))
        if streets:
            return streets[0]
    raise KeyError(f"{node.name}下没有街道（镇）")


# ----------------------------------------------------------------------------- drafting


def draft_text(
    deps: AgentDeps, event: dict[str, Any], *, own_id: int | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The draft the triage graph would make for ``event`` (an ``EventCreate`` as JSON, with
    its ``street`` and ``district`` when known), by the graph's own node functions, storing
    nothing. Duplicates are dropped for a question (``own_id`` None) and the event itself for
    a stored event. Returns the draft view and the run's state."""
    ctx = TriageContext(engine="offline")
    state: dict[str, Any] = {"event_id": 0, "event": event}
    state.update(intake.classify_event(deps, state, ctx, RUN_ID))  # type: ignore[arg-type]
    dups = state["duplicates"]
    kept = [d for d in dups if own_id is not None and d["event_id"] != own_id]
    if len(kept) != len(dups):
        gone = {d["event_id"] for d in dups} - {d["event_id"] for d in kept}
        state["duplicates"] = kept
        state["needs_human"] = [
            n
            for n in state["needs_human"]
            if not any(re.search(rf"事件 {g}(?!\d)", n) for g in gone)
        ]
    for node in (routing.route_event, policy.retrieve_regulations, planner.plan_disposal):
        update = node(deps, state, ctx, RUN_ID)  # type: ignore[arg-type]
        trace = state.get("trace", [])
        state.update(update)
        state["trace"] = trace + update.get("trace", [])
    return draft_view(state, deps.knowledge), state


def for_subject(
    deps: AgentDeps, principal: Principal, subject: str, named: str | None
) -> Ownership:
    """Ownership of a kind of matter (the question's subject) at the asker's or the named place."""
    k = deps.knowledge
    street, note = resolve_place(k, principal, named)
    now: datetime = deps.clock()
    event = {
        "source": "hotline",
        "text": subject,
        "reported_at": now.isoformat(),
        "street": street,
        "district": k.jurisdiction(street).parent,
    }
    view, state = draft_text(deps, event, own_id=None)
    why = {(c["title"], c["article"]): c["why"] for c in state.get("citations", [])}
    version = state["classification"].get("model_version", "")
    sources = {
        "分类": f"派单草稿所用的同一分类器（版本 {version}）对「{subject}」的预测",
        "层级": (
            f"判例库（knowledge/data/labelled/cases.jsonl）的层级和主办类型判断，"
            f"最相近的判例 {'、'.join(p['id'] for p in state['routing']['precedent']['precedents'])}，由派单的 route_event 判定"
            if state["routing"].get("precedent")
            else f"小类默认层级（taxonomy.yaml {view['category']['code']}）与升级规则（escalation.yaml），由派单的 route_event 判定"
        ),
        "条文": "与派单草稿同一步骤：小类常用依据在法规索引中精确查找，再按内容检索",
    }
    return from_view(
        k,
        view,
        subject=subject,
        place_note=note,
        decided_by="按派单草稿的同一流程即时计算（未保存）",
        default_level=Level(state["routing"]["default_level"]),
        why=why,
        sources=sources,
        generic=True,
    )


def for_event(
    deps: AgentDeps,
    principal: Principal,
    event: StoredEvent,
    pending: Callable[[int], dict[str, Any] | None],
) -> Ownership:
    """Ownership of a stored event: its waiting draft, else its last order, else computed.
    A draft is read as the asker may read it (no duplicate outside their scope is named)."""
    k = deps.knowledge

    def where(street: str | None) -> str:
        return k.jurisdiction(street).name if street in k.jurisdictions else "未能定位"

    view = pending(event.id)
    if view is not None:
        view = for_caller(view, deps.store, principal)
        return from_view(
            k,
            view,
            subject=f"事件 E{event.id}",
            place_note=f"事发地：{where(view['location'].get('street'))}",
            decided_by=f"待审核的派单草稿（草稿编号 {view['approval']['id']}）",
            event_id=event.id,
        )
    orders = deps.store.orders(event.id)
    if orders and event.subtype in k.subtypes:
        return from_order(k, event, orders[-1], where(event.street))
    fields = event.model_dump(mode="json", include=set(EventCreate.model_fields))
    view, state = draft_text(
        deps, {**fields, "street": event.street, "district": event.district}, own_id=event.id
    )
    view = for_caller(view, deps.store, principal)
    why = {(c["title"], c["article"]): c["why"] for c in state.get("citations", [])}
    return from_view(
        k,
        view,
        subject=f"事件 E{event.id}",
        place_note=f"事发地：{where(view['location'].get('street'))}",
        decided_by="尚无派单草稿，按智能分拨即时计算（未保存）",
        event_id=event.id,
        default_level=Level(state["routing"]["default_level"]),
        why=why,
    )
