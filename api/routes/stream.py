"""Changes pushed to open consoles: ``GET /api/v1/stream`` as Server-Sent Events.

Every lifecycle transition (a new event is its 受理, then 派单, 签收, 退单, 督办 …), every
draft put up for approval and every alarm opened reaches each subscriber whose scope holds it,
as it happens: the console refreshes what it shows instead of polling. The server reads the
store's change feed (``EventStore.changes_since``: three indexed ``id > cursor`` queries) once a
second per open stream, so every replica in front of one PostgreSQL pushes what any of them
wrote. A message's ``id`` is the cursor (``t<transition>-a<approval>-l<alarm>``): a client that
reconnects with
``Last-Event-ID`` gets what it missed. Messages carry no texts, only what to refresh; the
console reads the event through the scoped endpoints. The stream stays open for ``max_s``
seconds (then the client reconnects, as browsers do), with a comment every 15 seconds to keep
proxies from closing it."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from anyio import CapacityLimiter
from fastapi import APIRouter, Header, Query
from fastapi.sse import EventSourceResponse, ServerSentEvent

from api.deps import PrincipalDep, StoreDep
from api.errors import ERROR_RESPONSES, JSON_ERROR_RESPONSES
from domain.lifecycle import ACTION_ZH, STATUS_ZH

router = APIRouter(prefix="/api/v1", tags=["stream"], responses=ERROR_RESPONSES)

#: how often an open stream reads the change feed, and how often it says it is alive
POLL_S = 1.0
KEEPALIVE_S = 15.0
_CURSOR = re.compile(r"^t(\d{1,18})-a(\d{1,18})(?:-l(\d{1,18}))?$")
#: store reads of every open stream share two worker threads, apart from the request handlers'
_limiter: CapacityLimiter | None = None


def _feed_limiter() -> CapacityLimiter:
    global _limiter
    if _limiter is None:
        _limiter = CapacityLimiter(2)
    return _limiter


def cursor_of(value: str | None) -> tuple[int, int, int] | None:
    """The (transition, approval, alarm) cursor a ``Last-Event-ID`` names, or None."""
    found = _CURSOR.match(value.strip()) if value else None
    if found is None:
        return None
    return int(found.group(1)), int(found.group(2)), int(found.group(3) or 0)


def _id(t: int, a: int, al: int) -> str:
    return f"t{t}-a{a}-l{al}"


#: the SSE event name of each kind of change
EVENTS = {"transition": "change", "draft": "draft", "alarm": "alarm"}


def _message(change: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": change["kind"],
        "event_id": change["event_id"],
        "actor": change["actor"],
        "at": change["at"].isoformat() if change["at"] else None,
        "district": change["district"],
        "street": change["street"],
        "urgency": change["urgency"],
    }
    if change["kind"] == "alarm":
        out.update(alarm_id=change["id"], device_id=change["actor"], rule_id=change["rule_id"])
    if change["kind"] == "transition":
        action, status = change["action"], change["to_status"]
        out.update(
            action=action,
            # the enums are strings: a stored value finds its translation directly
            action_zh=ACTION_ZH.get(action, action),
            status=status,
            status_zh=STATUS_ZH.get(status, status),
            reason_code=change["reason_code"],
        )
    return out


@router.get(
    "/stream",
    response_class=EventSourceResponse,
    responses={
        **JSON_ERROR_RESPONSES,
        200: {
            "description": "事件流：change（状态变化：受理、派单、签收、退单、督办…）、"
            "draft（待审核的派单草稿）、alarm（新告警）；每条的 id 是续传位置"
        },
    },
)
async def stream(
    principal: PrincipalDep,
    store: StoreDep,
    last_event_id: Annotated[str | None, Header(max_length=64)] = None,
    since: Annotated[
        str | None,
        Query(max_length=64, description="续传位置（t<n>-a<n>-l<n>，与 Last-Event-ID 相同）"),
    ] = None,
    max_s: Annotated[
        float, Query(ge=1, le=600, description="保持连接的秒数，之后客户端重连")
    ] = 300,
) -> AsyncIterator[ServerSentEvent]:
    """本辖区事件的实时变化（服务器推送 SSE）：新事件、待审核草稿、派单、签收、退单、督办、新告警等，
    控制台据此刷新，不再轮询。断线重连时带上 Last-Event-ID（或 since）可补发错过的变化。"""
    limiter = _feed_limiter()
    cursor = cursor_of(last_event_id) or cursor_of(since)
    if cursor is None:
        cursor = await anyio.to_thread.run_sync(store.change_cursor, limiter=limiter)
    t, a, al = cursor
    yield ServerSentEvent(
        event="ready", id=_id(t, a, al), retry=3000, data={"cursor": _id(t, a, al)}
    )
    started = last_sent = time.monotonic()
    while time.monotonic() - started < max_s:
        changes = await anyio.to_thread.run_sync(store.changes_since, t, a, al, limiter=limiter)
        for change in changes:
            kind, n = change["kind"], int(change["id"])
            if kind == "transition":
                t = max(t, n)
            elif kind == "draft":
                a = max(a, n)
            else:
                al = max(al, n)
            if not principal.scope.allows(change["district"], change["street"]):
                department = principal.scope.department  # its orders, wherever they are
                if (
                    not department
                    or change["event_id"] is None
                    or not await anyio.to_thread.run_sync(
                        store.addressed_to, int(change["event_id"]), department, limiter=limiter
                    )
                ):
                    continue
            yield ServerSentEvent(event=EVENTS[kind], id=_id(t, a, al), data=_message(change))
            last_sent = time.monotonic()
        if time.monotonic() - last_sent >= KEEPALIVE_S:
            yield ServerSentEvent(comment="keepalive", id=_id(t, a, al))
            last_sent = time.monotonic()
        await anyio.sleep(POLL_S)
    yield ServerSentEvent(event="bye", id=_id(t, a, al), data={"cursor": _id(t, a, al)})
