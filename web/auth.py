"""Authentication: who is calling. Accepted credentials, all checked against hashes in the
store: ``Authorization: Bearer <token>``, ``X-API-Key: <key>``, HTTP Basic with the key as the
password (what Open311 clients that only take a base URL can send), and, on Open311 routes,
the ``api_key`` parameter the GeoReport spec defines."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field

from domain.access import Principal, Role
from store.users import Users
from tools.scope import principal_for
from web.deps import KnowledgeDep, StoreDep

SESSION_TTL = timedelta(hours=12)
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="sanji"'}


def _credential(request: Request, api_key: str | None = None) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic" and value.strip():
        try:
            _, _, password = base64.b64decode(value.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return password or None
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    return api_key or None


def identify(
    request: Request, store: Any, knowledge: Any, api_key: str | None = None
) -> tuple[str | None, Principal | None]:
    """The credential the request carries and the caller it belongs to (None when there is
    none, or it is not valid). ``api_key``: a key the route reads from its own parameters
    (Open311 clients send ``api_key`` in the query or the form), used when no header carries
    one. Sets ``request.state.principal`` for logging and metrics."""
    token = _credential(request, api_key)
    user = Users(store.db).resolve(token, now=datetime.now(UTC)) if token else None
    if user is None:
        return token, None
    principal = principal_for(knowledge, user)
    request.state.principal = principal
    return token, principal


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

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class Login(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class Me(BaseModel):
    username: str
    display_name: str
    role: Role
    role_zh: str
    jurisdiction: str
    jurisdiction_name: str
    sees_personal_information: bool


class Session(BaseModel):
    token: str
    expires_at: datetime
    user: Me


def me_of(principal: Principal, knowledge: KnowledgeDep) -> Me:
    return Me(
        username=principal.username,
        display_name=principal.display_name,
        role=principal.role,
        role_zh=principal.role.zh,
        jurisdiction=principal.jurisdiction,
        jurisdiction_name=knowledge.jurisdiction(principal.jurisdiction).name,
        sees_personal_information=principal.reveals_personal,
    )


@router.post("/login")
def login(body: Login, store: StoreDep, knowledge: KnowledgeDep) -> Session:
    """用户名和密码登录，返回 12 小时有效的会话令牌。"""
    users = Users(store.db)
    user = users.check_password(body.username, body.password)
    if user is None:
        raise HTTPException(401, detail="用户名或密码错误，或账号已停用。")
    now = datetime.now(UTC)
    token = users.issue(user.id, "session", now=now, ttl=SESSION_TTL)
    return Session(
        token=token,
        expires_at=now + SESSION_TTL,
        user=me_of(principal_for(knowledge, user), knowledge),
    )


@router.post("/logout", status_code=204)
def logout(request: Request, principal: PrincipalDep, store: StoreDep) -> Response:
    """吊销当前会话令牌。"""
    token = _credential(request)
    if token and token.startswith("sjs_"):
        Users(store.db).revoke(token)
    return Response(status_code=204)


@router.get("/me")
def whoami(principal: PrincipalDep, knowledge: KnowledgeDep) -> Me:
    """当前登录的账号、角色和辖区。"""
    return me_of(principal, knowledge)
