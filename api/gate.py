"""The front door of ``sanji serve``: a plain ASGI app that accepts connections at once and
answers liveness and readiness while the real app (FastAPI, the agents, the vector store:
seconds of imports on a busy machine) is imported and built in a thread. Then it hands every
request to that app, which builds its own parts in the background (``api.startup``).

Standard library only: importing this module costs nothing, which is the point."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: seconds a client is told to wait while the program itself is still loading
RETRY_AFTER_S = 2
LOADING = "正在加载程序"

PREPARING_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="{retry}">
<title>三级 Sanji · 正在准备…</title></head>
<body style="font-family: sans-serif; margin: 3rem auto; max-width: 32rem; color: #222">
<h1 style="font-size: 1.4rem">正在准备…</h1>
<p>系统刚刚启动，正在加载程序，页面会在 {retry} 秒后自动刷新。</p>
</body></html>
"""


class StagedApp:
    """Serves ``factory()``'s app once it is built; until then answers ``/healthz`` (200),
    ``/readyz`` (503 with the step) and everything else with a zh-CN 503 and
    ``Retry-After`` (the console's page: a 「正在准备…」 page that reloads itself).

    The built app's own lifespan is run inside this one's, so it starts and stops with the
    server."""

    def __init__(self, factory: Callable[[], ASGIApp]) -> None:
        self._factory = factory
        self._app: ASGIApp | None = None
        self._error: str | None = None
        self._started = time.monotonic()
        self._stop: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def app(self) -> ASGIApp | None:
        """The real app once it is built and started."""
        return self._app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        app = self._app
        if app is not None:
            await app(scope, receive, send)
        elif scope["type"] == "http":
            await self._answer_while_loading(scope, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1013})  # try again later

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._started = time.monotonic()
                self._stop = asyncio.Event()
                self._task = asyncio.create_task(self._run())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._stop is not None:
                    self._stop.set()
                if self._task is not None:
                    await self._task
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _run(self) -> None:
        assert self._stop is not None
        loading = asyncio.ensure_future(asyncio.to_thread(self._factory))
        stopping = asyncio.ensure_future(self._stop.wait())
        await asyncio.wait({loading, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not loading.done():  # stopped while loading: the thread ends on its own
            loading.cancel()
            return
        stopping.cancel()
        try:
            app = loading.result()
        except Exception as exc:
            log.exception("loading the app failed")
            self._error = f"{type(exc).__name__}: {exc}"
            return
        await self._serve(app)

    async def _serve(self, app: ASGIApp) -> None:
        """Run ``app``'s lifespan: start it, serve it until the server stops, shut it down."""
        assert self._stop is not None
        inbox: asyncio.Queue[Message] = asyncio.Queue()
        outbox: asyncio.Queue[Message] = asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
        scope["state"] = {}
        running: asyncio.Future[None] = asyncio.ensure_future(app(scope, inbox.get, outbox.put))
        await inbox.put({"type": "lifespan.startup"})
        started = await outbox.get()
        if started["type"] != "lifespan.startup.complete":
            self._error = str(started.get("message") or "启动失败")
            await running
            return
        self._app = app
        await self._stop.wait()
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await running

    async def _answer_while_loading(self, scope: Scope, send: Send) -> None:
        path = scope.get("path", "")
        if path == "/healthz":
            if self._error is None:
                return await _send(send, 200, {"status": "ok"})
            return await _send(send, 503, {"detail": f"服务启动失败：{self._error}"})
        if path == "/readyz":
            return await _send(send, 503, self._readiness(), retry=True)
        if self._error is not None:
            return await _send(send, 500, {"detail": f"服务启动失败：{self._error}"})
        if path == "/" and scope.get("method") == "GET":
            page = PREPARING_PAGE.format(retry=RETRY_AFTER_S).encode()
            return await _send_bytes(send, 503, page, "text/html; charset=utf-8", retry=True)
        detail = f"系统正在启动（{LOADING}），请稍后再试。"
        if path.startswith("/open311/"):  # GeoReport v2's error shape
            return await _send(send, 503, [{"code": 503, "description": detail}], retry=True)
        await _send(send, 503, {"detail": detail}, retry=True)

    def _readiness(self) -> dict[str, Any]:
        failed = self._error
        return {
            "ready": False,
            "warming_up": failed is None,
            "degraded": False,
            "progress": {
                "step": "load",
                "label": LOADING,
                "detail": "",
                "steps_done": 0,
                "steps": 0,
                "elapsed_s": round(time.monotonic() - self._started, 1),
            },
            "checks": {"startup": {"ok": False, "error": failed}} if failed else {},
        }


async def _send(send: Send, status: int, body: Any, *, retry: bool = False) -> None:
    data = json.dumps(body, ensure_ascii=False).encode()
    await _send_bytes(send, status, data, "application/json", retry=retry)


async def _send_bytes(
    send: Send, status: int, body: bytes, kind: str, *, retry: bool = False
) -> None:
    headers = [(b"content-type", kind.encode()), (b"content-length", str(len(body)).encode())]
    if retry:
        headers.append((b"retry-after", str(RETRY_AFTER_S).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
