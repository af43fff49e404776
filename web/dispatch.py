"""Dispatch orders over HTTP: drafts that store nothing (one or a batch), triage of a stored
event up to the approval step, and the officer's decision that resumes the waiting run."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from agents.dispatch import DecisionInvalid, Engine, NothingPending, NotTriageable, for_caller
from domain.models import Event, EventCreate, Source
from web.auth import OfficerDep, PrincipalDep
from web.deps import DispatcherDep, StoreDep
from web.events import CONTROL, masked, visible

router = APIRouter(prefix="/api/v1", tags=["dispatch"])


class DraftIn(BaseModel):
    """Text to draft a dispatch order for; nothing is stored."""

    model_config = {"extra": "forbid"}

    text: str = Field(min_length=1, max_length=20_000)
    title: str | None = Field(default=None, max_length=500)
    source: Source = Source.HOTLINE
    address: str | None = Field(default=None, max_length=500)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    reported_at: datetime | None = None

    def to_create(self) -> EventCreate:
        text = CONTROL.sub("", self.text)
        if not text.strip():
            raise HTTPException(422, detail="正文不能全是空白")
        return EventCreate(
            source=self.source,
            title=self.title,
            text=text,
            address=self.address,
            lat=self.lat,
            lon=self.lon,
            reported_at=self.reported_at or datetime.now(UTC),
        )


class BatchIn(BaseModel):
    model_config = {"extra": "forbid"}

    items: list[DraftIn] = Field(min_length=1, max_length=500)


@router.post("/dispatch/draft")
def draft(
    body: DraftIn,
    principal: PrincipalDep,
    store: StoreDep,
    dispatcher: DispatcherDep,
    engine: Engine = "auto",
) -> dict[str, Any]:
    """输入事件文本，返回派单草稿（分类、主办协办部门、层级、时限、法规依据、处置步骤、说明）。不登记、不保存。"""
    return for_caller(dispatcher.draft(body.to_create(), engine), store, principal)


@router.post("/dispatch/draft:batch")
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


def _shown(result: dict[str, Any], store: Any, principal: Any) -> dict[str, Any]:
    if result.get("ok"):
        return {**result, "draft": for_caller(result["draft"], store, principal)}
    return result


@router.post("/events/{event_id}/triage")
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


@router.get("/events/{event_id}/draft")
def pending_draft(
    event_id: int, principal: PrincipalDep, store: StoreDep, dispatcher: DispatcherDep
) -> dict[str, Any]:
    """待审核的派单草稿。"""
    visible(store, principal, event_id)
    view = dispatcher.pending(event_id)
    if view is None:
        raise HTTPException(404, detail=f"事件 {event_id} 没有待审核的派单草稿")
    return for_caller(view, store, principal)


APPROVAL_ID = Field(
    default=None, description="您审核的草稿编号（draft.approval.id）；草稿已被取代时拒绝"
)


class Approve(BaseModel):
    model_config = {"extra": "forbid"}
    note: str | None = Field(default=None, max_length=1000)
    approval_id: int | None = APPROVAL_ID


class Edit(BaseModel):
    model_config = {"extra": "forbid"}
    approval_id: int | None = APPROVAL_ID
    lead_department: str | None = None
    assisting_departments: list[str] | None = None
    level: Literal["street", "district", "city"] | None = None
    disposal_hours: float | None = Field(default=None, gt=0, le=24 * 90)
    note: str | None = Field(default=None, max_length=1000)


class Reject(BaseModel):
    model_config = {"extra": "forbid"}
    approval_id: int | None = APPROVAL_ID
    reason: str = Field(min_length=1, max_length=2000)


class Merge(BaseModel):
    model_config = {"extra": "forbid"}
    approval_id: int | None = APPROVAL_ID
    duplicate_of: int = Field(ge=1, le=2**63 - 1)
    reason: str | None = Field(default=None, max_length=2000)


class Decided(BaseModel):
    event_id: int
    outcome: str
    decision: str
    event: Event


def _decide(
    event_id: int,
    decision: dict[str, Any],
    principal: Any,
    store: Any,
    dispatcher: Any,
    approval_id: int | None = None,
) -> Decided:
    visible(store, principal, event_id)
    try:
        result = dispatcher.decide(event_id, decision, by=principal.actor, approval_id=approval_id)
    except NothingPending as exc:
        raise HTTPException(404, detail=str(exc)) from exc
    except DecisionInvalid as exc:
        raise HTTPException(422, detail="审核意见无法执行：" + "；".join(exc.errors)) from exc
    return Decided(**result, event=masked(store.get_event(event_id), principal))


@router.post("/events/{event_id}/approve")
def approve(
    event_id: int,
    principal: OfficerDep,
    store: StoreDep,
    dispatcher: DispatcherDep,
    body: Approve | None = None,
) -> Decided:
    """同意派单草稿：登记分拨、生成派单并派出。"""
    decision: dict[str, Any] = {"action": "approve"}
    if body and body.note:
        decision["note"] = body.note
    approval = body.approval_id if body else None
    return _decide(event_id, decision, principal, store, dispatcher, approval)


@router.post("/events/{event_id}/edit")
def edit(
    event_id: int, body: Edit, principal: OfficerDep, store: StoreDep, dispatcher: DispatcherDep
) -> Decided:
    """修改后派出：换主办或协办部门、改层级或办结时限、加备注。"""
    edits = body.model_dump(exclude_none=True, exclude={"approval_id"})
    if not edits:
        raise HTTPException(422, detail="请至少修改一项：主办部门、协办部门、层级、办结时限或备注")
    decision = {"action": "edit", "edits": edits}
    return _decide(event_id, decision, principal, store, dispatcher, body.approval_id)


@router.post("/events/{event_id}/reject")
def reject(
    event_id: int, body: Reject, principal: OfficerDep, store: StoreDep, dispatcher: DispatcherDep
) -> Decided:
    """驳回派单草稿（须说明原因），事件留在待分拨。"""
    decision = {"action": "reject", "reason": body.reason}
    return _decide(event_id, decision, principal, store, dispatcher, body.approval_id)


@router.post("/events/{event_id}/merge")
def merge(
    event_id: int, body: Merge, principal: OfficerDep, store: StoreDep, dispatcher: DispatcherDep
) -> Decided:
    """合并为重复件：本事件归档并指向已受理的事件。"""
    visible(store, principal, body.duplicate_of)
    decision = {"action": "merge", "duplicate_of": body.duplicate_of, "reason": body.reason}
    return _decide(event_id, decision, principal, store, dispatcher, body.approval_id)
