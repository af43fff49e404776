"""Dependency aliases for routers: what the lifespan put on ``app.state``, and the caller
(any signed-in account, or an officer who may act on events)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from agents.chat import ChatAssistant
from agents.deps import AgentDeps
from agents.dispatch import Dispatcher
from api.security import CHALLENGE, identify
from domain.access import Principal
from knowledge import Knowledge
from knowledge.retrieval import RegulationIndex
from settings import Settings
from store import EventStore


def _store(request: Request) -> EventStore:
    return request.app.state.store


def _knowledge(request: Request) -> Knowledge:
    return request.app.state.knowledge


def _index(request: Request) -> RegulationIndex:
    return request.app.state.index


def _settings(request: Request) -> Settings:
    return request.app.state.settings


StoreDep = Annotated[EventStore, Depends(_store)]
KnowledgeDep = Annotated[Knowledge, Depends(_knowledge)]
SettingsDep = Annotated[Settings, Depends(_settings)]
IndexDep = Annotated[RegulationIndex, Depends(_index)]


def _dispatcher(request: Request) -> Dispatcher:
    return request.app.state.dispatcher


DispatcherDep = Annotated[Dispatcher, Depends(_dispatcher)]


def _agent_deps(request: Request) -> AgentDeps:
    return request.app.state.deps


def _chat(request: Request) -> ChatAssistant:
    return request.app.state.chat


AgentDepsDep = Annotated[AgentDeps, Depends(_agent_deps)]
ChatDep = Annotated[ChatAssistant, Depends(_chat)]


def authenticate(request: Request, store: StoreDep, knowledge: KnowledgeDep) -> Principal:
    """The caller, or 401."""
    token, principal = identify(request, store, knowledge)
    if not token:
        raise HTTPException(401, detail="请先登录：请求需要携带令牌或 API Key。", headers=CHALLENGE)
    if principal is None:
        raise HTTPException(
            401, detail="令牌无效、已过期或已被吊销，请重新登录。", headers=CHALLENGE
        )
    return principal


PrincipalDep = Annotated[Principal, Depends(authenticate)]


def officer(principal: PrincipalDep) -> Principal:
    """Callers who approve drafts and move events through their lifecycle."""
    if not principal.role.acts:
        raise HTTPException(403, detail=f"{principal.role.zh}账号只能报送事件和获取派单草稿。")
    return principal


OfficerDep = Annotated[Principal, Depends(officer)]
