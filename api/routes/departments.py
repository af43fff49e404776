"""Departments as users, and the owning centre's side of their work: a department's worklist,
attachments (photos and documents, type-checked by their content), returns waiting for the
owning centre's ruling and the ruling itself, and the supervision sweep."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from agents.dispatch import Dispatcher
from agents.oversight import (
    AdjudicationRefused,
    adjudicate,
    may_adjudicate,
    owner_of_return,
    sweep_overdue,
)
from api.common import masked, visible
from api.deps import (
    ActorDep,
    DispatcherDep,
    KnowledgeDep,
    OfficerDep,
    PrincipalDep,
    StoreDep,
)
from api.errors import ERROR_RESPONSES, error_response
from api.schemas import (
    ActionResultPublic,
    AdjudicateIn,
    AllowedAction,
    AttachmentPublic,
    DepartmentOrderPublic,
    ReturnPublic,
    SweepPublic,
)
from domain.access import Principal, Role
from domain.lifecycle import Status, department_actions
from domain.models import Event
from domain.text import CONTROL
from knowledge import Knowledge
from store import EventStore, NotFound
from tools.events import summarize

router = APIRouter(prefix="/api/v1", tags=["departments"], responses=ERROR_RESPONSES)

#: the largest attachment taken (the store keeps the bytes)
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
#: what an attachment may be, recognised by its first bytes (never by its name)
MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"%PDF-", "application/pdf", ".pdf"),
)
PART_ZH = {"lead": "主办", "assisting": "协办", None: "已不再承办"}


def sniff(content: bytes) -> tuple[str, str] | None:
    """The media type and extension of a JPEG, PNG or PDF, from its content."""
    for magic, media_type, ext in MAGIC:
        if content.startswith(magic):
            return media_type, ext
    return None


def clean_filename(name: str | None, ext: str) -> str:
    """The file's own name without any path or control characters; a default when empty."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = CONTROL.sub("", base).strip()[:200]
    return base or f"附件{ext}"


def _department_actions(store: EventStore, principal: Principal, event_id: int, status: str) -> Any:
    part = store.part_of(event_id, principal.jurisdiction)
    actions = department_actions(Status(status), part)
    return part, [AllowedAction(action=a.value, name=a.zh) for a in actions]


@router.get("/department/orders", response_model=list[DepartmentOrderPublic])
def department_orders(
    principal: PrincipalDep,
    store: StoreDep,
    knowledge: KnowledgeDep,
    open_only: Annotated[bool, Query(description="只看未办结的工单")] = True,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    """本部门的工单（主办或协办），到期最早的在前：签收、退单、延期、进展反馈和办结都在这里办理。"""
    if principal.role is not Role.DEPARTMENT:
        raise HTTPException(403, detail="只有部门经办人账号有本部门工单列表。")
    statuses = ["dispatched", "accepted", "in_progress", "extension_requested"] if open_only else []
    rows, _ = store.search(principal.scope, statuses=statuses, limit=limit, count=False)
    now = datetime.now(UTC)
    name = knowledge.departments[principal.jurisdiction].name
    out = []
    for row in rows:
        part, actions = _department_actions(store, principal, row["id"], row["status"])
        out.append(
            {
                "part": part,
                "part_zh": PART_ZH[part],
                "department_name": name,
                "allowed_actions": actions,
                "event": summarize(row, as_of=now),
            }
        )
    far = datetime.max.replace(tzinfo=UTC)
    out.sort(key=lambda o: (o["event"].due_at or far, o["event"].id))
    return out


# -- attachments ----------------------------------------------------------------------------


def _may_attach(store: EventStore, principal: Principal, event: Event) -> dict[str, Any]:
    """Who may attach: the departments of the current order, and centre officers."""
    if principal.role is Role.DEPARTMENT:
        part = store.part_of(event.id, principal.jurisdiction)
        if part is None:
            raise HTTPException(
                403, detail=f"事件 {event.id} 当前的工单不是派给本部门的，不能上传附件。"
            )
        order = store.current_order_row(event.id)
        return {"department": principal.jurisdiction, "order_id": order["id"] if order else None}
    if not principal.role.acts:
        raise HTTPException(403, detail=f"{principal.role.zh}账号不能上传附件。")
    order = store.current_order_row(event.id)
    return {"department": None, "order_id": order["id"] if order else None}


def _public(meta: dict[str, Any]) -> AttachmentPublic:
    return AttachmentPublic(**meta, url=f"/api/v1/attachments/{meta['id']}")


@router.post(
    "/events/{event_id}/attachments",
    status_code=201,
    response_model=AttachmentPublic,
    responses={
        **error_response(413, "附件超过 10 MB"),
        **error_response(415, "附件不是 JPEG、PNG 图片或 PDF 文件"),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                t: {"schema": {"type": "string", "format": "binary"}}
                for t in ("image/jpeg", "image/png", "application/pdf", "application/octet-stream")
            },
        }
    },
)
async def upload_attachment(
    event_id: int,
    request: Request,
    principal: ActorDep,
    store: StoreDep,
    filename: Annotated[
        str | None, Query(max_length=255, description="原文件名（仅作显示）")
    ] = None,
    note: Annotated[str | None, Query(max_length=500, description="附件说明")] = None,
) -> AttachmentPublic:
    """上传现场照片或办理材料（请求正文即文件内容）：JPEG、PNG 或 PDF，按文件内容识别类型，不超过 10 MB。"""
    event = await run_in_threadpool(visible, store, principal, event_id)
    where = await run_in_threadpool(_may_attach, store, principal, event)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_ATTACHMENT_BYTES:
        raise HTTPException(413, detail="附件不能超过 10 MB，请压缩后重新上传。")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_ATTACHMENT_BYTES:
            raise HTTPException(413, detail="附件不能超过 10 MB，请压缩后重新上传。")
        chunks.append(chunk)
    content = b"".join(chunks)
    if not content:
        raise HTTPException(422, detail="附件内容为空，请选择要上传的文件。")
    kind = sniff(content)
    if kind is None:
        raise HTTPException(
            415, detail="仅支持 JPEG、PNG 图片和 PDF 文件（按文件内容识别，与文件名无关）。"
        )
    media_type, ext = kind
    note = CONTROL.sub("", note).strip() or None if note else None
    meta = await run_in_threadpool(
        lambda: store.attachments.add(
            event.id,
            content=content,
            filename=clean_filename(filename, ext),
            media_type=media_type,
            uploaded_by=principal.actor,
            now=datetime.now(UTC),
            note=note,
            **where,
        )
    )
    return _public(meta)


@router.get("/events/{event_id}/attachments", response_model=list[AttachmentPublic])
def list_attachments(
    event_id: int, principal: PrincipalDep, store: StoreDep
) -> list[AttachmentPublic]:
    """事件的全部附件（照片、办理材料），最早的在前。"""
    event = visible(store, principal, event_id)
    return [_public(m) for m in store.attachments.of_event(event.id)]


@router.get(
    "/attachments/{attachment_id}",
    response_class=Response,
    responses={
        200: {
            "content": {
                t: {"schema": {"type": "string", "format": "binary"}}
                for t in ("image/jpeg", "image/png", "application/pdf")
            },
            "description": "附件内容",
        }
    },
)
def get_attachment(attachment_id: int, principal: PrincipalDep, store: StoreDep) -> Response:
    """下载附件：只有能查看该事件的账号可以下载。"""
    meta = store.attachments.meta(attachment_id)
    if meta is None:
        raise NotFound(f"附件 {attachment_id} 不存在")
    try:
        visible(store, principal, meta["event_id"])
    except NotFound:
        raise NotFound(f"附件 {attachment_id} 不存在或不在您的辖区内") from None
    content = store.attachments.content(attachment_id) or b""
    return Response(
        content,
        media_type=meta["media_type"],
        headers={
            "Content-Disposition": f"inline; filename*=UTF-8''{quote(meta['filename'])}",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, max-age=3600",
        },
    )


# -- returns and their adjudication -------------------------------------------------------


def _suggested(dispatcher: Dispatcher, event_id: int) -> str | None:
    """The lead of the draft routing made again after the return (None without one)."""
    try:
        view = dispatcher.pending(event_id)
    except Exception:  # a suggestion only: the ruling does not depend on it
        return None
    return str(view["lead_department"]["code"]) if view else None


def _return_view(
    store: EventStore,
    k: Knowledge,
    principal: Principal,
    event: Event,
    dispatcher: Dispatcher,
) -> Any:
    order = store.returned_order_row(event.id)
    owner = owner_of_return(store, k, event)
    if order is None or owner is None:
        raise NotFound(f"事件 {event.id} 没有被退回的工单")
    returns = store.returns_of(event.id)
    last = returns[-1] if returns else {}
    code = last.get("reason_code")
    dept = k.departments.get(order["lead_department"])
    reason = k.return_reasons.get(code) if code else None
    suggested = _suggested(dispatcher, event.id)
    named = k.departments.get(suggested) if suggested else None
    return ReturnPublic(
        event_id=event.id,
        returned_department=order["lead_department"],
        returned_department_name=dept.name if dept else order["lead_department"],
        reason_code=code,
        reason_name=reason.name if reason else None,
        reason=last.get("reason"),
        returned_by=last.get("actor"),
        owner_level=owner.level,
        owner_level_zh=owner.level.zh,
        owner_centre=owner.centre,
        owner_centre_name=owner.centre_name,
        may_adjudicate=may_adjudicate(store, principal, event, owner),
        suggested_department=suggested,
        suggested_department_name=named.name if named else None,
        adjudications=store.oversight.adjudications(event.id),
    )


@router.get("/returns", response_model=list[ReturnPublic])
def pending_returns(
    principal: OfficerDep,
    store: StoreDep,
    knowledge: KnowledgeDep,
    dispatcher: DispatcherDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ReturnPublic]:
    """辖区内等待裁定的退单：退单部门、原因、由哪一级中心裁定，以及本人能否裁定。"""
    rows, _ = store.search(principal.scope, statuses=["returned"], limit=limit, count=False)
    return [
        _return_view(store, knowledge, principal, store.get_event(r["id"]), dispatcher)
        for r in rows
    ]


@router.get("/events/{event_id}/adjudication", response_model=ReturnPublic)
def event_return(
    event_id: int,
    principal: PrincipalDep,
    store: StoreDep,
    knowledge: KnowledgeDep,
    dispatcher: DispatcherDep,
) -> ReturnPublic:
    """一件事件最近一次退单及其裁定情况。"""
    event = visible(store, principal, event_id)
    view: ReturnPublic = _return_view(store, knowledge, principal, event, dispatcher)
    if principal.role is Role.DEPARTMENT:
        view.may_adjudicate = False
    return view


@router.post(
    "/events/{event_id}/adjudicate",
    response_model=ActionResultPublic,
    tags=["lifecycle"],
    summary="退单裁定",
)
def event_adjudicate(
    event_id: int,
    body: AdjudicateIn,
    principal: OfficerDep,
    store: StoreDep,
    knowledge: KnowledgeDep,
) -> ActionResultPublic:
    """承办中心裁定退单：accept 同意并改派到指定部门，reject 驳回（原部门继续办理），
    escalate 提交上一级中心裁定。只有承办中心及其上级中心的工作人员可以裁定。"""
    visible(store, principal, event_id)
    try:
        event = adjudicate(
            store,
            knowledge,
            event_id,
            body.decision,
            principal,
            datetime.now(UTC),
            corrected_department=body.corrected_department,
            note=body.note,
            expected_version=body.expected_version,
        )
    except AdjudicationRefused as exc:
        raise HTTPException(403 if exc.forbidden else 422, detail=str(exc)) from None
    return ActionResultPublic(event=masked(event, principal))


@router.post("/supervision/sweep", response_model=SweepPublic, tags=["lifecycle"])
def supervision_sweep(principal: OfficerDep, store: StoreDep, knowledge: KnowledgeDep) -> Any:
    """立即检查超时工单并按时限规则自动督办（服务器也会定时执行；同一工单每一级只督办一次）。"""
    if not principal.role.supervises:
        raise HTTPException(403, detail="「督办」需由区县或市级工作人员操作")
    return SweepPublic(raised=sweep_overdue(store, knowledge, datetime.now(UTC)))
