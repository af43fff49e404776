"""Drafting a dataset row with the shipped engine, for the routing and dispatch evals. The
dispatcher comes from the wiring root (``agents.runtime.build_services``); nothing is stored."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from agents.dispatch import Dispatcher
from domain.models import MAX_TEXT_CHARS, EventCreate, Source

Drafter = Callable[[dict[str, Any], str], dict[str, Any]]


def row_event(fields: dict[str, Any], text: str) -> EventCreate:
    """The event a dataset row describes: its text, and the source, title, address and
    coordinates when the row has them (cut to what an event holds)."""
    source = str(fields.get("source") or "")
    lat, lon = fields.get("lat"), fields.get("lon")
    return EventCreate(
        source=Source(source) if source in Source._value2member_map_ else Source.HOTLINE,
        text=text[:MAX_TEXT_CHARS],
        title=(str(fields["title"])[:500] if fields.get("title") else None),
        address=(str(fields["address"])[:500] if fields.get("address") else None),
        lat=float(lat) if isinstance(lat, int | float) else None,
        lon=float(lon) if isinstance(lon, int | float) else None,
        reported_at=datetime.now(UTC),
    )


def case_drafter(dispatcher: Dispatcher, engine: str) -> Drafter:
    """A function drafting one row with ``engine`` (offline or llm)."""
    mode: Literal["offline", "llm"] = "llm" if engine == "llm" else "offline"

    def draft(fields: dict[str, Any], text: str) -> dict[str, Any]:
        view: dict[str, Any] = dispatcher.draft(row_event(fields, text), mode)
        return view

    return draft
