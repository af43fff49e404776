"""Human approval: the draft waits (LangGraph interrupt) until an officer approves, edits,
rejects or merges it; the decision is then applied to the store and recorded."""

from __future__ import annotations

from typing import Any

from langgraph.types import interrupt

from agents.deps import AgentDeps
from agents.oversight import label_approved_redraft
from agents.planner import citation
from agents.policy import cite
from agents.state import TriageContext, TriageState
from domain.decisions import (
    DECISION,
    Decision,
    EditDecision,
    MergeDecision,
    RejectDecision,
    parse_decision,
)
from domain.lifecycle import WAITING_FOR_DISPATCH, Action, Status
from domain.models import Citation, DispatchOrder
from knowledge.lawtext import CITATION
from store import NotFound


def _errors(deps: AgentDeps, state: TriageState, decision: Decision) -> list[str]:
    """What keeps a well-formed decision from being applied here (empty when it can be)."""
    if isinstance(decision, EditDecision) and decision.edits is not None:
        k = deps.knowledge
        place = state.get("routing", {}).get("jurisdiction") or k.city.code
        edits = decision.edits
        codes = [edits.lead_department] if edits.lead_department is not None else []
        errors: list[str] = []
        for code in [*codes, *(edits.assisting_departments or [])]:
            dept = k.departments.get(code)
            if dept is None:
                errors.append(f"没有编码为 {code} 的部门")
            elif not k.serves(dept, place):
                errors.append(f"{dept.name}不管辖事发地，不能承办")
        for cited in edits.legal_basis or []:
            ref = CITATION.fullmatch(cited.strip())
            if ref is None:
                errors.append(f"无法识别的条文「{cited}」：请写作「《法规名称》第X条」")
            elif deps.index.get_article(*ref.groups()) is None:
                errors.append(f"法规索引中没有{cited.strip()}")
        return errors
    if isinstance(decision, MergeDecision):
        return _merge_errors(deps, state, decision.duplicate_of)
    return []


def _merge_errors(deps: AgentDeps, state: TriageState, target: int) -> list[str]:
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


def _named(deps: AgentDeps, cited: str) -> Citation:
    """An article the officer named (checked by ``_errors``), as the order cites it."""
    ref = CITATION.fullmatch(cited.strip())
    assert ref is not None
    unit = deps.index.get_article(*ref.groups())
    if unit is None:  # the index was rebuilt while the decision waited: cite it as named
        return Citation(title=ref.group(1), article=ref.group(2))
    return citation(cite(unit, "审核人选定"))


def human_approval(deps: AgentDeps, state: TriageState, ctx: TriageContext) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "event_id": state["event_id"],
        "draft": state["draft"],
        "needs_human": state.get("needs_human", []),
        "duplicates": state.get("duplicates", []),
        "question": "请审核派单：approve 同意 / edit 修改 / reject 驳回 / merge 合并",
    }
    while True:
        decision, errors = parse_decision(interrupt(payload))
        if decision is not None:
            errors = _errors(deps, state, decision)
        if decision is not None and not errors:
            return {"decision": decision.model_dump(mode="json", exclude_none=True)}
        payload = {**payload, "errors": errors}


def apply_decision(deps: AgentDeps, state: TriageState, ctx: TriageContext) -> dict[str, Any]:
    store, k = deps.store, deps.knowledge
    decision = DECISION.validate_python(state["decision"])
    officer = decision.officer
    event_id = state["event_id"]
    now = deps.clock()
    event = store.get_event(event_id)
    if not isinstance(decision, RejectDecision) and event.status not in WAITING_FOR_DISPATCH:
        store.add_feedback(
            event_id=event_id,
            officer=officer,
            kind="approval_stale",
            payload={"status": event.status.value, "decision": decision.action},
            now=now,
        )
        return {"outcome": "stale"}  # someone else moved the event on: nothing is applied twice
    if isinstance(decision, MergeDecision):
        if event.status is Status.RETURNED:
            store.transition(
                event_id, Action.RETRIAGE, actor=officer, at=now, reason="退单后核实为重复件"
            )
        store.transition(
            event_id,
            Action.MERGE_DUPLICATE,
            actor=officer,
            at=now,
            reason=decision.reason or "与已受理事件为同一事项",
            payload={"duplicate_of": decision.duplicate_of},
        )
        return {"outcome": "merged"}
    if isinstance(decision, RejectDecision):
        store.add_feedback(
            event_id=event_id,
            officer=officer,
            kind="draft_rejected",
            payload={"reason": decision.reason, "draft": state["draft"]},
            now=now,
        )
        return {"outcome": "rejected"}
    order = DispatchOrder.model_validate(state["draft"])
    if isinstance(decision, EditDecision):
        edits = decision.edits
        before = {
            "lead": order.lead_department,
            "level": order.level.value,
            "hours": order.disposal_hours,
            "legal_basis": [f"《{c.title}》{c.article}" for c in order.legal_basis],
        }
        if edits is not None:
            if edits.lead_department:
                order.lead_department = edits.lead_department
                order.assisting_departments = [
                    d for d in order.assisting_departments if d != order.lead_department
                ]
            if edits.assisting_departments is not None:
                order.assisting_departments = list(edits.assisting_departments)
            if edits.level:
                order.level = edits.level
            if edits.disposal_hours:
                order.disposal_hours = edits.disposal_hours
            if edits.legal_basis is not None:
                order.legal_basis = [_named(deps, x) for x in dict.fromkeys(edits.legal_basis)]
            if edits.note:
                order.steps.append(f"审核人备注：{edits.note}")
        order.explanation += f" 审核人{officer}修改了派单。"
        store.add_feedback(
            event_id=event_id,
            officer=officer,
            kind="draft_edited",
            payload={
                "before": before,
                "edits": edits.model_dump(mode="json", exclude_none=True) if edits else {},
                "lead_name": k.departments[order.lead_department].name,
            },
            now=now,
        )
    with store.db.transaction():
        if event.status is Status.RETURNED:  # the centre's ruling on the return, as a label
            label_approved_redraft(store, k, event, order.lead_department, officer, now)
        store.dispatch_order(
            event, order, officer=officer, triaged_by=ctx.actor, now=now, decision=decision.action
        )
    return {"outcome": "dispatched"}
