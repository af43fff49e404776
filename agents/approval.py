"""Human approval: the draft waits (LangGraph interrupt) until an officer approves, edits,
rejects or merges it; the decision is then applied to the store and recorded."""

from __future__ import annotations

from typing import Any

from langgraph.types import interrupt

from agents.deps import AgentDeps
from agents.state import TriageContext, TriageState
from domain.lifecycle import WAITING_FOR_DISPATCH, Action, Status
from domain.models import DispatchOrder
from domain.vocabulary import Level

ACTIONS = ("approve", "edit", "reject", "merge")


def _errors(deps: AgentDeps, state: TriageState, value: Any) -> list[str]:
    """What is wrong with an officer's answer (empty when it can be applied)."""
    if not isinstance(value, dict) or value.get("action") not in ACTIONS:
        return [f"请选择操作：{'/'.join(ACTIONS)}"]
    if not str(value.get("officer", "")).strip():
        return ["请注明审核人（officer）"]
    k = deps.knowledge
    place = state.get("routing", {}).get("jurisdiction") or k.city.code
    errors: list[str] = []
    if value["action"] == "edit":
        edits = value.get("edits") or {}
        if not isinstance(edits, dict):
            return ['edits 应为对象，如 {"lead_department": "部门编码"}']
        codes = [edits.get("lead_department")] if edits.get("lead_department") is not None else []
        assisting = edits.get("assisting_departments")
        if assisting is not None and not isinstance(assisting, list):
            errors.append("assisting_departments 应为部门编码列表")
            assisting = []
        for code in [*codes, *(assisting or [])]:
            dept = k.departments.get(code) if isinstance(code, str) else None
            if dept is None:
                errors.append(f"没有编码为 {code} 的部门")
            elif not k.serves(dept, place):
                errors.append(f"{dept.name}不管辖事发地，不能承办")
        if "level" in edits and edits["level"] not in ("street", "district", "city"):
            errors.append("层级应为 street / district / city")
        hours = edits.get("disposal_hours")
        if hours is not None and (
            isinstance(hours, bool)
            or not isinstance(hours, int | float)
            or not 0 < hours <= 24 * 90
        ):
            errors.append("办结时限应为 0 到 2160 小时之间的数字")
    if value["action"] == "reject" and not str(value.get("reason", "")).strip():
        errors.append("驳回必须说明原因")
    if value["action"] == "merge":
        errors += _merge_errors(deps, state, value.get("duplicate_of"))
    return errors


def _merge_errors(deps: AgentDeps, state: TriageState, target: Any) -> list[str]:
    from store import NotFound

    if isinstance(target, bool) or not isinstance(target, int):
        return ["合并重复件需要 duplicate_of（事件编号）"]
    if target == state["event_id"]:
        return ["不能把事件合并到它自己"]
    try:
        other = deps.store.get_event(target)
    except NotFound:
        return [f"事件 {target} 不存在"]
    mine = deps.store.get_event(state["event_id"])
    suggested = {d["event_id"] for d in state.get("duplicates", [])}
    same_place = mine.district is not None and other.district == mine.district
    if target not in suggested and not same_place:
        return [f"事件 {target} 不在本事件所在区县，也不在疑似重复列表中"]
    return []


def human_approval(deps: AgentDeps, state: TriageState, ctx: TriageContext) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "event_id": state["event_id"],
        "draft": state["draft"],
        "needs_human": state.get("needs_human", []),
        "duplicates": state.get("duplicates", []),
        "question": "请审核派单：approve 同意 / edit 修改 / reject 驳回 / merge 合并",
    }
    while True:
        value = interrupt(payload)
        errors = _errors(deps, state, value)
        if not errors:
            return {"decision": value}
        payload = {**payload, "errors": errors}


def apply_decision(deps: AgentDeps, state: TriageState, ctx: TriageContext) -> dict[str, Any]:
    store, k = deps.store, deps.knowledge
    decision = state["decision"]
    officer = str(decision["officer"])
    event_id = state["event_id"]
    now = deps.clock()
    event = store.get_event(event_id)
    if decision["action"] != "reject" and event.status not in WAITING_FOR_DISPATCH:
        store.add_feedback(
            event_id=event_id,
            officer=officer,
            kind="approval_stale",
            payload={"status": event.status.value, "decision": decision["action"]},
            now=now,
        )
        return {"outcome": "stale"}  # someone else moved the event on: nothing is applied twice
    if decision["action"] == "merge":
        if event.status is Status.RETURNED:
            store.transition(
                event_id, Action.RETRIAGE, actor=officer, at=now, reason="退单后核实为重复件"
            )
        store.transition(
            event_id,
            Action.MERGE_DUPLICATE,
            actor=officer,
            at=now,
            reason=decision.get("reason") or "与已受理事件为同一事项",
            payload={"duplicate_of": decision["duplicate_of"]},
        )
        return {"outcome": "merged"}
    if decision["action"] == "reject":
        store.add_feedback(
            event_id=event_id,
            officer=officer,
            kind="draft_rejected",
            payload={"reason": decision["reason"], "draft": state["draft"]},
            now=now,
        )
        return {"outcome": "rejected"}
    order = DispatchOrder.model_validate(state["draft"])
    if decision["action"] == "edit":
        edits = decision.get("edits") or {}
        before = {
            "lead": order.lead_department,
            "level": order.level.value,
            "hours": order.disposal_hours,
        }
        if edits.get("lead_department"):
            order.lead_department = edits["lead_department"]
            order.assisting_departments = [
                d for d in order.assisting_departments if d != order.lead_department
            ]
        if edits.get("assisting_departments") is not None:
            order.assisting_departments = list(edits["assisting_departments"])
        if edits.get("level"):
            order.level = Level(edits["level"])
        if edits.get("disposal_hours"):
            order.disposal_hours = float(edits["disposal_hours"])
        if edits.get("note"):
            order.steps.append(f"审核人备注：{edits['note']}")
        order.explanation += f" 审核人{officer}修改了派单。"
        store.add_feedback(
            event_id=event_id,
            officer=officer,
            kind="draft_edited",
            payload={
                "before": before,
                "edits": edits,
                "lead_name": k.departments[order.lead_department].name,
            },
            now=now,
        )
    with store.db.transaction():
        if event.status is Status.RECEIVED:
            store.transition(
                event_id,
                Action.TRIAGE,
                actor=ctx.actor,
                at=now,
                reason="智能分拨",
                expected_version=event.version,
            )
        store.add_order(order, now=now)
        store.transition(
            event_id,
            Action.REDISPATCH if event.status is Status.RETURNED else Action.DISPATCH,
            actor=officer,
            at=now,
            payload={"lead": order.lead_department, "decision": decision["action"]},
        )
    return {"outcome": "dispatched"}
