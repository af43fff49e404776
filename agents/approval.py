"""Human approval: the draft waits (LangGraph interrupt) until an officer approves, edits,
rejects or merges it; the decision is then applied to the store and recorded."""

from __future__ import annotations

from typing import Any

from langgraph.types import interrupt

from agents.deps import AgentDeps
from agents.state import TriageContext, TriageState
from domain.lifecycle import Action, Status
from domain.models import DispatchOrder
from knowledge.models import Level

ACTIONS = ("approve", "edit", "reject", "merge")


def _errors(deps: AgentDeps, value: Any) -> list[str]:
    if not isinstance(value, dict) or value.get("action") not in ACTIONS:
        return [f"请选择操作：{'/'.join(ACTIONS)}"]
    if not str(value.get("officer", "")).strip():
        return ["请注明审核人（officer）"]
    errors = []
    if value["action"] == "edit":
        edits = value.get("edits") or {}
        lead = edits.get("lead_department")
        if lead is not None and lead not in deps.knowledge.departments:
            errors.append(f"没有编码为 {lead} 的部门")
        for code in edits.get("assisting_departments") or []:
            if code not in deps.knowledge.departments:
                errors.append(f"没有编码为 {code} 的部门")
        if "level" in edits and edits["level"] not in ("street", "district", "city"):
            errors.append("层级应为 street / district / city")
        hours = edits.get("disposal_hours")
        if hours is not None and not (isinstance(hours, int | float) and 0 < hours <= 24 * 90):
            errors.append("办结时限应为 0 到 2160 小时之间的数字")
    if value["action"] == "reject" and not str(value.get("reason", "")).strip():
        errors.append("驳回必须说明原因")
    if value["action"] == "merge" and not isinstance(value.get("duplicate_of"), int):
        errors.append("合并重复件需要 duplicate_of（事件编号）")
    return errors


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
        errors = _errors(deps, value)
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
    if decision["action"] == "merge":
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
    if event.status is Status.RECEIVED:
        store.transition(event_id, Action.TRIAGE, actor=ctx.actor, at=now, reason="智能分拨")
    store.add_order(order, now=now)
    store.transition(
        event_id,
        Action.DISPATCH,
        actor=officer,
        at=now,
        payload={"lead": order.lead_department, "decision": decision["action"]},
    )
    return {"outcome": "dispatched"}
