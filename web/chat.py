"""The chat assistant over HTTP: ``POST /api/v1/chat`` answers as Server-Sent Events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, Field

from web.auth import PrincipalDep

router = APIRouter(prefix="/api/v1", tags=["chat"])


class ChatIn(BaseModel):
    model_config = {"extra": "forbid"}

    thread_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    message: str = Field(min_length=1, max_length=2000)
    event_id: int | None = Field(
        default=None, ge=1, le=2**63 - 1, description="在事件详情旁提问时的事件编号"
    )
    engine: Literal["auto", "offline", "llm"] = "auto"


@router.post("/chat", response_class=EventSourceResponse)
def chat(body: ChatIn, request: Request, principal: PrincipalDep) -> Iterator[ServerSentEvent]:
    """向值班助手提问。以 SSE 流式返回：delta（文字片段）、sources（事件和法规出处）、
    proposal（待确认的派单）、done（完整回答）。会话按 thread_id 记忆。"""
    assistant = request.app.state.chat
    try:
        for chunk in assistant.stream(
            principal, body.thread_id, body.message, engine=body.engine, event_id=body.event_id
        ):
            kind = chunk.get("type", "message")
            data = {k: v for k, v in chunk.items() if k != "type"}
            yield ServerSentEvent(event=kind, data=data)
    except Exception as exc:  # the stream has started: report the failure inside it
        yield ServerSentEvent(event="error", data={"detail": f"{type(exc).__name__}: {exc}"})


@router.get("/chat/{thread_id}")
def chat_history(thread_id: str, request: Request, principal: PrincipalDep) -> list[dict[str, Any]]:
    """本人某个会话的全部消息。"""
    messages: list[dict[str, Any]] = request.app.state.chat.history(principal, thread_id)
    return messages
