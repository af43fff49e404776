"""What the chat's parts share: the conversation state kept by the checkpointer, the context of
one turn, and one answer with its sources. Imports nothing of the chat, so the assistant, its
offline replies and its tool loop all depend on it and never on each other's internals."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from typing_extensions import TypedDict

from domain.access import Principal

#: writes one chunk of the answer to the stream (``delta``, ``sources``, ``proposal``, ``reset``)
Write = Callable[[dict[str, Any]], None]


class ChatState(TypedDict, total=False):
    messages: Annotated[list[dict[str, Any]], operator.add]
    focus_event: int | None
    proposal: dict[str, Any] | None


@dataclass(frozen=True)
class ChatContext:
    principal: Principal
    engine: str = "offline"
    thread: str = ""  # the checkpointer thread of this conversation; the audit's run id


@dataclass
class Reply:
    """One answer: its text, and where every fact in it came from."""

    text: str
    events: list[int] = field(default_factory=list)
    articles: list[dict[str, Any]] = field(default_factory=list)
    focus_event: int | None = None
    proposal: dict[str, Any] | None = None
    clear_proposal: bool = False
    intent: str = ""
    engine: str = "offline"
    notes: list[str] = field(default_factory=list)

    def sources(self) -> dict[str, Any]:
        return {
            "events": sorted(set(self.events)),
            "articles": [
                {"title": a["title"], "article": a["article"], "citation": a.get("citation")}
                for a in self.articles
            ],
        }
