"""One router per area of the API; ``ROUTERS`` is the order the app includes them in."""

from fastapi import APIRouter

from api.routes import (
    alarms,
    auth,
    chat,
    departments,
    dispatch,
    events,
    health,
    metrics,
    open311,
    reviews,
    stream,
    tracing,
)

ROUTERS: tuple[APIRouter, ...] = tuple(
    m.router
    for m in (
        health,
        auth,
        events,
        dispatch,
        chat,
        open311,
        metrics,
        reviews,
        alarms,
        tracing,
        stream,
        departments,
    )
)
