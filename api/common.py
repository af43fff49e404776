"""Helpers every router shares: cleaning and fitting filed text, and what a caller may see
(visibility and masking). Routers import these, never each other."""

from __future__ import annotations

import re
from typing import Any

from domain.access import Principal
from domain.models import MAX_TEXT_CHARS, Event
from store import EventStore
from tools import events
from tools.scope import visible_event

#: the longest text the API accepts; beyond MAX_TEXT_CHARS the agents read the beginning and
#: the whole text is kept in the event's attributes (nothing the citizen said is lost)
MAX_API_TEXT = 1_000_000
#: control characters some hotline systems leave in texts
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def fit_text(text: str, attributes: dict[str, Any]) -> tuple[str, dict[str, Any], list[str]]:
    """A text longer than the agents read is kept whole in ``attributes.full_text``."""
    if len(text) <= MAX_TEXT_CHARS:
        return text, attributes, []
    warning = (
        f"正文共 {len(text)} 字，超过 {MAX_TEXT_CHARS} 字：分拨只读前 {MAX_TEXT_CHARS} 字，"
        "全文保存在附加信息 full_text 中"
    )
    return text[:MAX_TEXT_CHARS], {**attributes, "full_text": text}, [warning]


def visible(store: EventStore, principal: Principal, event_id: int) -> Event:
    """The event if the caller may see it; 404 otherwise (existence is not revealed)."""
    return visible_event(store, principal.scope, principal.actor, event_id)


def masked(event: Event, principal: Principal) -> Event:
    """The event with personal information masked unless the caller's role sees it."""
    return event if principal.reveals_personal else events.mask_event(event)
