"""Sign-in with a password, sign-out, and who the caller is. The credentials themselves are
read by ``api.security``."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, HTTPException, Request, Response

from api.deps import KnowledgeDep, PrincipalDep, StoreDep
from api.errors import ERROR_RESPONSES, error_response
from api.schemas import LoginIn, MePublic, SessionPublic
from api.security import credential
from api.throttle import LoginThrottle
from domain.access import Principal
from knowledge import Knowledge
from store.users import Users
from tools.scope import jurisdiction_name, principal_for

SESSION_TTL = timedelta(hours=12)

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], responses=ERROR_RESPONSES)


def me_of(principal: Principal, knowledge: Knowledge) -> MePublic:
    return MePublic(
        username=principal.username,
        display_name=principal.display_name,
        role=principal.role,
        role_zh=principal.role.zh,
        jurisdiction=principal.jurisdiction,
        jurisdiction_name=jurisdiction_name(knowledge, principal.jurisdiction),
        sees_personal_information=principal.reveals_personal,
    )


@router.post(
    "/login",
    responses={
        **error_response(401, "用户名或密码错误，或账号已停用"),
        **error_response(429, "登录失败次数过多，稍后再试"),
    },
)
def login(
    body: LoginIn, request: Request, store: StoreDep, knowledge: KnowledgeDep
) -> SessionPublic:
    """用户名和密码登录，返回 12 小时有效的会话令牌。同一账号或同一地址短时间内登录失败
    次数过多时返回 429，Retry-After 头给出需要等待的秒数。"""
    throttle: LoginThrottle = request.app.state.login_throttle
    address = request.client.host if request.client else "unknown"
    wait = throttle.retry_after(body.username, address)
    if wait:
        raise HTTPException(
            429,
            detail=f"登录失败次数过多，请 {_minutes(wait)} 后再试；忘记密码请联系系统管理员。",
            headers={"Retry-After": str(wait)},
        )
    users = Users(store.db)
    user = users.check_password(body.username, body.password)
    if user is None:
        throttle.failed(body.username, address)
        raise HTTPException(401, detail="用户名或密码错误，或账号已停用。")
    throttle.succeeded(body.username)
    now = datetime.now(UTC)
    token = users.issue(user.id, "session", now=now, ttl=SESSION_TTL)
    return SessionPublic(
        token=token,
        expires_at=now + SESSION_TTL,
        user=me_of(principal_for(knowledge, user), knowledge),
    )


def _minutes(seconds: int) -> str:
    return f"{seconds} 秒" if seconds < 60 else f"{math.ceil(seconds / 60)} 分钟"


@router.post("/logout", status_code=204, response_class=Response)
def logout(request: Request, principal: PrincipalDep, store: StoreDep) -> Response:
    """吊销当前会话令牌。"""
    token = credential(request)
    if token and token.startswith("sjs_"):
        Users(store.db).revoke(token)
    return Response(status_code=204)


@router.get("/me")
def whoami(principal: PrincipalDep, knowledge: KnowledgeDep) -> MePublic:
    """当前登录的账号、角色和辖区。"""
    return me_of(principal, knowledge)
