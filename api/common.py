"""Helpers every router shares: the longest text filed, and what a caller may see
(visibility and masking). Routers import these, never each other."""

from __future__ import annotations

from domain.access import Principal
from domain.models import Event
from store import EventStore
from tools import events
from tools.scope import visible_event

#: the longest text the API accepts; beyond MAX_TEXT_CHARS the agents read the beginning and
#: the whole text is kept in the event's attributes (``domain.text.fit_text``)
MAX_API_TEXT = 1_000_000


def visible(store: EventStore, principal: Principal, event_id: int) -> Event:
    """The event if the caller may see it; 404 otherwise (existence is not revealed)."""
    return visible_event(store, principal.scope, principal.actor, event_id)


def masked(event: Event, principal: Principal) -> Event:
    """The event with personal information masked unless the caller's role sees it."""
    return event if principal.reveals_personal else events.mask_event(event)
