"""Dependency aliases for routers: the parts the server built (503 with ``Retry-After`` while
it is still building them, see ``api.startup``: the store and the knowledge come first, the
rest when the regulation index and the classifier are built), and the caller (any signed-in account, or an
officer who may act on events)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from agents.chat import ChatAssistant
from agents.deps import AgentDeps
from agents.dispatch import Dispatcher
from agents.runtime import Services
from api.security import CHALLENGE, identify
from api.startup import Startup
from domain.access import Principal, Role
from knowledge import Knowledge
from knowledge.retrieval import RegulationIndex
from settings import Settings
from store import EventStore


def _services(request: Request) -> Services:
    startup: Startup = request.app.state.startup
    return startup.services


ServicesDep = Annotated[Services, Depends(_services)]


def _part(name: str) -> Callable[[Services], Any]:
    """A dependency giving one of the services' parts."""

    def part(services: ServicesDep) -> Any:
        return getattr(services, name)

    return part


def _store(request: Request) -> EventStore:
    startup: Startup = request.app.state.startup
    return startup.core[0]


def _knowledge(request: Request) -> Knowledge:
    startup: Startup = request.app.state.startup
    return startup.core[1]


def _settings(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(_settings)]
StoreDep = Annotated[EventStore, Depends(_store)]
KnowledgeDep = Annotated[Knowledge, Depends(_knowledge)]
IndexDep = Annotated[RegulationIndex, Depends(_part("index"))]
DispatcherDep = Annotated[Dispatcher, Depends(_part("dispatcher"))]
AgentDepsDep = Annotated[AgentDeps, Depends(_part("deps"))]
ChatDep = Annotated[ChatAssistant, Depends(_part("chat"))]


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
    if principal.role is Role.DEPARTMENT:
        raise HTTPException(403, detail="部门经办人账号只能办理派给本部门的工单。")
    if not principal.role.acts:
        raise HTTPException(403, detail=f"{principal.role.zh}账号只能报送事件和获取派单草稿。")
    return principal


OfficerDep = Annotated[Principal, Depends(officer)]


def actor(principal: PrincipalDep) -> Principal:
    """Callers who move events through their lifecycle: centre officers, and departments
    (on their own orders, checked by the route)."""
    if principal.role is Role.DEPARTMENT:
        return principal
    return officer(principal)


ActorDep = Annotated[Principal, Depends(actor)]
