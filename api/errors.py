"""Bad input gets a precise Chinese message: exception handlers for the store's and the
domain's errors, readable validation errors, and a request-body guard that re-decodes GBK
bodies (what many Chinese hotline systems still send) and refuses oversized ones."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.datastructures import Default
from fastapi.dependencies.models import Dependant
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute, APIRouter
from pydantic import BaseModel, Field, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.errors import OutOfScope
from domain.lifecycle import IllegalTransition
from domain.messages import validation_message
from store import Busy, Conflict, NotFound, StoreError, Unstorable

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024 * 1024


class ErrorBody(BaseModel):
    """Every error the API answers with (401, 403, 404, 409, 413, 503…)."""

    detail: str = Field(description="中文说明")


class ConflictBody(ErrorBody):
    """409: the event's state does not allow the action (``status`` and ``action`` say which),
    or an external id is taken."""

    status: str | None = Field(default=None, description="事件当前状态（状态不允许该操作时）")
    action: str | None = Field(default=None, description="被拒绝的操作（状态不允许该操作时）")


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="出错的位置，如 body、lat")
    type: str = Field(description="错误类型，如 missing、less_than_equal")
    msg: str = Field(description="中文说明")


class ValidationErrorBody(ErrorBody):
    """A request the API cannot take (422): ``detail`` says why in Chinese; when the request
    did not match its schema, ``errors`` lists each problem (at most 50)."""

    errors: list[FieldError] = Field(default=[], description="逐项错误（请求不符合格式时）")


#: what every router declares: the 422 body the handlers below actually send, in place of
#: FastAPI's default (whose ``detail`` is a list)
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {"model": ValidationErrorBody, "description": "请求内容有误"}
}
#: the same, for a route whose own responses are not JSON (a stream): errors still are
JSON_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {
        "description": "请求内容有误",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ValidationErrorBody"}}
        },
    }
}


def error_response(code: int, description: str) -> dict[int | str, dict[str, Any]]:
    """A route's own declaration of one more error status, with the common body."""
    return {code: {"model": ErrorBody, "description": description}}


#: what the other error statuses mean, declared by ``declare_errors``
ERROR_TEXTS: dict[int, str] = {
    400: "请求正文的编码无法识别",
    401: "未登录，或令牌、API Key 无效",
    403: "无权访问该事件或执行该操作",
    404: "事件或资源不存在（或不在您的辖区内）",
    409: "事件当前状态不允许该操作，或编号冲突",
    413: "请求正文过大",
}


def declare_errors(router: APIRouter) -> None:
    """Declare on each operation of ``router`` the error statuses it can answer with, from
    what it depends on: 401 and 403 where the caller is authenticated (scope and role are
    checked there), 400 and 413 on every POST (``BodyGuard`` reads its body), 404 where a path names
    a resource, 409 on every change to an event. A status the route or the router declares
    itself is kept; a route adds what it raises beyond these. Call before the router is included; ``/openapi.json`` shows the result."""
    from api.deps import authenticate

    for route in router.routes:
        if not isinstance(route, APIRoute):
            continue
        codes = []
        methods = route.methods or set()
        if _depends_on(route.dependant, authenticate):
            codes += [401, 403]
        if "POST" in methods:
            codes += [400, 413]
        if "{" in route.path:
            codes.append(404)
        if "POST" in methods and route.path.startswith("/api/v1/events"):
            codes.append(409)
        json_body = route.response_class in (JSONResponse, Default(JSONResponse))
        for code in codes:
            if {code, str(code)} & (route.responses.keys() | router.responses.keys()):
                continue
            model = ConflictBody if code == 409 else ErrorBody
            route.responses[code] = (
                {"model": model, "description": ERROR_TEXTS[code]}
                if json_body
                else {
                    "description": ERROR_TEXTS[code],
                    "content": {
                        "application/json": {
                            "schema": {"$ref": f"#/components/schemas/{model.__name__}"}
                        }
                    },
                }
            )


def _depends_on(dependant: Dependant, call: Any) -> bool:
    return any(d.call is call or _depends_on(d, call) for d in dependant.dependencies)


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        body = ValidationErrorBody(
            detail="请求内容有误：" + "；".join(validation_message(e) for e in errors[:10]),
            errors=[
                FieldError(
                    loc=list(e.get("loc", ())), type=e.get("type", ""), msg=validation_message(e)
                )
                for e in errors[:50]
            ],
        )
        return JSONResponse(body.model_dump(mode="json"), status_code=422)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith("/open311/") and isinstance(exc.detail, list):
            return JSONResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)
        return await http_exception_handler(request, exc)

    @app.exception_handler(ValidationError)
    async def _invalid_model(request: Request, exc: ValidationError) -> JSONResponse:
        return await _invalid(request, RequestValidationError(exc.errors()))

    @app.exception_handler(NotFound)
    async def _missing(request: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(Conflict)
    async def _conflict(request: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(IllegalTransition)
    async def _illegal(request: Request, exc: IllegalTransition) -> JSONResponse:
        return JSONResponse(
            {"detail": str(exc), "status": exc.status.value, "action": exc.action.value},
            status_code=409,
        )

    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, exc: OverflowError) -> JSONResponse:
        return JSONResponse({"detail": "编号或数值超出范围"}, status_code=422)

    @app.exception_handler(OutOfScope)
    async def _forbidden(request: Request, exc: OutOfScope) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=403)

    @app.exception_handler(Unstorable)
    async def _unstorable(request: Request, exc: Unstorable) -> JSONResponse:
        body = ValidationErrorBody(detail=f"请求内容有误：{exc}")
        return JSONResponse(body.model_dump(mode="json"), status_code=422)

    @app.exception_handler(Busy)
    async def _busy(request: Request, exc: Busy) -> JSONResponse:
        log.warning("store busy on %s: %s", request.url.path, exc)
        return JSONResponse(
            {"detail": f"数据库繁忙，请 {exc.retry_after} 秒后重试：{exc}"},
            status_code=503,
            headers={"Retry-After": str(exc.retry_after)},
        )

    @app.exception_handler(StoreError)
    async def _store_down(request: Request, exc: StoreError) -> JSONResponse:
        log.error("store error on %s: %s", request.url.path, exc)
        return JSONResponse({"detail": f"数据库暂不可用，请稍后重试：{exc}"}, status_code=503)

    app.add_middleware(BodyGuard)


class BodyGuard:
    """Reads request bodies of JSON and form posts whole: refuses more than MAX_BODY_BYTES,
    and turns a body that is not UTF-8 (GBK/GB18030, or the charset the client declared)
    into UTF-8, noting it in the ``x-sanji-recoded`` request header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        ctype = headers.get("content-type", "")
        if not ("json" in ctype or "x-www-form-urlencoded" in ctype):
            await self.app(scope, receive, send)
            return
        declared = int(headers.get("content-length", "0") or 0)
        if declared > MAX_BODY_BYTES:
            await _refuse(send, 413, f"请求正文过大（{declared} 字节），上限 {MAX_BODY_BYTES} 字节")
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                await _refuse(send, 413, f"请求正文过大，上限 {MAX_BODY_BYTES} 字节")
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        recoded = None
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            charset = ctype.partition("charset=")[2].split(";")[0].strip().strip('"') or "gb18030"
            for encoding in dict.fromkeys([charset, "gb18030"]):
                try:
                    body = body.decode(encoding).encode("utf-8")
                    recoded = encoding
                    break
                except (LookupError, UnicodeDecodeError):
                    continue
            else:
                await _refuse(
                    send,
                    400,
                    "请求正文既不是 UTF-8 也不是 GBK/GB18030 编码，无法识别，请以 UTF-8 发送。",
                )
                return
        if recoded:
            new_headers = [
                (k, v) for k, v in scope["headers"] if k.lower() not in (b"content-length",)
            ]
            new_headers += [
                (b"content-length", str(len(body)).encode()),
                (b"x-sanji-recoded", recoded.encode()),
            ]
            scope = {**scope, "headers": new_headers}
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _refuse(send: Send, status: int, detail: str) -> None:
    payload = json.dumps({"detail": detail}, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
