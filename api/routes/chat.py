"""The chat assistant over HTTP: ``POST /api/v1/chat`` answers as Server-Sent Events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.sse import EventSourceResponse, ServerSentEvent

from api.deps import ChatDep, PrincipalDep
from api.errors import ERROR_RESPONSES, JSON_ERROR_RESPONSES
from api.schemas import ChatIn, ChatMessagePublic
from domain.access import Principal, Role

router = APIRouter(prefix="/api/v1", tags=["chat"], responses=ERROR_RESPONSES)


def _not_a_department(principal: Principal) -> None:
    """The assistant answers for a jurisdiction; a department account has none."""
    if principal.role is Role.DEPARTMENT:
        raise HTTPException(403, detail="部门经办人账号不提供值班助手，请在本部门工单中办理。")


@router.post("/chat", response_class=EventSourceResponse, responses=JSON_ERROR_RESPONSES)
def chat(body: ChatIn, assistant: ChatDep, principal: PrincipalDep) -> Iterator[ServerSentEvent]:
    """向值班助手提问。以 SSE 流式返回：delta（文字片段）、sources（事件和法规出处）、
    proposal（待确认的派单）、done（完整回答）。会话按 thread_id 记忆。"""
    _not_a_department(principal)
    try:
        for chunk in assistant.stream(
            principal, body.thread_id, body.message, engine=body.engine, event_id=body.event_id
        ):
            kind = chunk.get("type", "message")
            data = {k: v for k, v in chunk.items() if k != "type"}
            yield ServerSentEvent(event=kind, data=data)
    except Exception as exc:  # the stream has started: report the failure inside it
        yield ServerSentEvent(event="error", data={"detail": f"{type(exc).__name__}: {exc}"})


@router.get("/chat/{thread_id}", response_model=list[ChatMessagePublic])
def chat_history(
    thread_id: str, assistant: ChatDep, principal: PrincipalDep
) -> list[dict[str, Any]]:
    """本人某个会话的全部消息。"""
    _not_a_department(principal)
    return assistant.history(principal, thread_id)
