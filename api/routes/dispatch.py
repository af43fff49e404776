"""Dispatch orders over HTTP: drafts that store nothing (one or a batch), triage of a stored
event up to the approval step, and the officer's decision that resumes the waiting run."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from agents.dispatch import Dispatcher, Engine, for_caller
from agents.errors import DecisionInvalid, NothingPending, NotTriageable
from api.common import masked, visible
from api.deps import DispatcherDep, OfficerDep, PrincipalDep, StoreDep
from api.errors import ERROR_RESPONSES
from api.schemas import (
    ApproveIn,
    BatchIn,
    DecidedPublic,
    DraftBatchPublic,
    DraftIn,
    EditIn,
    MergeIn,
    RejectIn,
)
from domain.access import Principal
from domain.decisions import Decision, parse_decision
from domain.drafts import DispatchDraft, PendingDraft
from domain.models import EventCreate
from store import EventStore

router = APIRouter(prefix="/api/v1", tags=["dispatch"], responses=ERROR_RESPONSES)


@router.post("/dispatch/draft", response_model=DispatchDraft)
def draft(
    body: DraftIn,
    principal: PrincipalDep,
    store: StoreDep,
    dispatcher: DispatcherDep,
    engine: Engine = "auto",
) -> dict[str, Any]:
    """输入事件文本，返回派单草稿（分类、主办协办部门、层级、时限、法规依据、处置步骤、说明）。不登记、不保存。"""
    return for_caller(dispatcher.draft(body.to_create(), engine), store, principal)


@router.post("/dispatch/draft:batch", response_model=DraftBatchPublic)
def draft_batch(
    body: BatchIn,
    principal: PrincipalDep,
    store: StoreDep,
    dispatcher: DispatcherDep,
    engine: Engine = "auto",
) -> dict[str, Any]:
    """批量起草派单（最多 500 条），逐条返回草稿或错误；不保存。"""
    creates: list[EventCreate | None] = []
    errors: dict[int, str] = {}
    for n, item in enumerate(body.items):
        try:
            creates.append(item.to_create())
        except HTTPException as exc:
            creates.append(None)
            errors[n] = str(exc.detail)
    drafted = iter(dispatcher.draft_many([c for c in creates if c is not None], engine))
    results = [
        {"index": n, "ok": False, "error": errors[n]}
        if c is None
        else {"index": n, **_shown(next(drafted), store, principal)}
        for n, c in enumerate(creates)
    ]
    ok = sum(1 for r in results if r["ok"])
    return {"count": len(results), "ok": ok, "failed": len(results) - ok, "results": results}


def _shown(result: dict[str, Any], store: EventStore, principal: Principal) -> dict[str, Any]:
    if result.get("ok"):
        return {**result, "draft": for_caller(result["draft"], store, principal)}
    return result


@router.post("/events/{event_id}/triage", response_model=PendingDraft)
def triage(
    event_id: int,
    principal: PrincipalDep,
    store: StoreDep,
    dispatcher: DispatcherDep,
    engine: Engine = "auto",
    force: Annotated[bool, Query(description="已有待审核草稿时重新起草")] = False,
) -> dict[str, Any]:
    """智能分拨：对已登记事件起草派单并等待审核（已有待审核草稿时直接返回）。"""
    visible(store, principal, event_id)
    if force and not principal.role.acts:
        raise HTTPException(403, detail="重新起草会取代待审核的草稿，需由工作人员操作")
    try:
        view = dispatcher.triage(event_id, by=principal.actor, engine=engine, force=force)
    except NotTriageable as exc:
        raise HTTPException(409, detail=str(exc)) from exc
    return for_caller(view, store, principal)


@router.get("/events/{event_id}/draft", response_model=PendingDraft)
def pending_draft(
    event_id: int, principal: PrincipalDep, store: StoreDep, dispatcher: DispatcherDep
) -> dict[str, Any]:
    """待审核的派单草稿。"""
    visible(store, principal, event_id)
    view = dispatcher.pending(event_id)
    if view is None:
        raise HTTPException(404, detail=f"事件 {event_id} 没有待审核的派单草稿")
    return for_caller(view, store, principal)


def _decision(**fields: Any) -> Decision:
    decision, errors = parse_decision(fields)
    if decision is None:
        raise HTTPException(422, detail="审核意见无法执行：" + "；".join(errors))
    return decision


def _decide(
    event_id: int,
    decision: Decision,
    principal: Principal,
    store: EventStore,
    dispatcher: Dispatcher,
    approval_id: int | None = None,
) -> DecidedPublic:
    visible(store, principal, event_id)
    try:
        result = dispatcher.decide(event_id, decision, by=principal.actor, approval_id=approval_id)
    except NothingPending as exc:
        raise HTTPException(404, detail=str(exc)) from exc
    except DecisionInvalid as exc:
        raise HTTPException(422, detail="审核意见无法执行：" + "；".join(exc.errors)) from exc
    return DecidedPublic(**result, event=masked(store.get_event(event_id), principal))


@router.post("/events/{event_id}/approve")
def approve(
    event_id: int,
    principal: OfficerDep,
    store: StoreDep,
    dispatcher: DispatcherDep,
    body: ApproveIn | None = None,
) -> DecidedPublic:
    """同意派单草稿：登记分拨、生成派单并派出。"""
    decision = _decision(
        action="approve", officer=principal.actor, note=body.note if body else None
    )
    approval = body.approval_id if body else None
    return _decide(event_id, decision, principal, store, dispatcher, approval)


@router.post("/events/{event_id}/edit")
def edit(
    event_id: int, body: EditIn, principal: OfficerDep, store: StoreDep, dispatcher: DispatcherDep
) -> DecidedPublic:
    """修改后派出：换主办或协办部门、改层级或办结时限、选定法律依据、加备注。"""
    edits = body.model_dump(exclude_none=True, exclude={"approval_id"})
    if not edits:
        raise HTTPException(
            422, detail="请至少修改一项：主办部门、协办部门、层级、办结时限、法律依据或备注"
        )
    decision = _decision(action="edit", officer=principal.actor, edits=edits)
    return _decide(event_id, decision, principal, store, dispatcher, body.approval_id)


@router.post("/events/{event_id}/reject")
def reject(
    event_id: int, body: RejectIn, principal: OfficerDep, store: StoreDep, dispatcher: DispatcherDep
) -> DecidedPublic:
    """驳回派单草稿（须说明原因），事件留在待分拨。"""
    decision = _decision(action="reject", officer=principal.actor, reason=body.reason)
    return _decide(event_id, decision, principal, store, dispatcher, body.approval_id)


@router.post("/events/{event_id}/merge")
def merge(
    event_id: int, body: MergeIn, principal: OfficerDep, store: StoreDep, dispatcher: DispatcherDep
) -> DecidedPublic:
    """合并为重复件：本事件归档并指向已受理的事件。"""
    visible(store, principal, body.duplicate_of)
    decision = _decision(
        action="merge", officer=principal.actor, duplicate_of=body.duplicate_of, reason=body.reason
    )
    return _decide(event_id, decision, principal, store, dispatcher, body.approval_id)
