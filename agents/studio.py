"""Entry points for the LangGraph server and Studio (``langgraph.json``): graph factories, so
``langgraph dev`` imports this module at once and builds the parts through the wiring root
(the regulation index, the classifier: a minute on a fresh data folder) on the first request
that needs a graph, in a worker thread, and only once. The graphs have no checkpointer: the
LangGraph server brings its own.

The triage graph takes ``{"event_id": …}`` for a stored event (the draft waits for an
officer's decision at ``human_approval``; resume with ``{"action": "approve", "officer": …}``)
or ``{"event": {…}}`` for an event that is not stored, which ends with its draft: there is no
event in the store to dispatch, and an approval that could not be applied would be a lie."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from langchain_core.runnables import RunnableConfig

_lock = threading.Lock()
_built: dict[str, Any] = {}


def _graphs() -> dict[str, Any]:
    """The services and both graphs, built on first use."""
    with _lock:
        if not _built:
            from agents.graph import build_triage_graph
            from agents.review import build_review_graph
            from agents.runtime import build_services
            from settings import get_settings

            services = build_services(get_settings(), durable=False)
            _built.update(
                services=services,
                triage=build_triage_graph(services.deps),
                review=build_review_graph(services.deps),
            )
        return _built


async def triage(config: RunnableConfig) -> Any:
    """The triage graph: intake → routing → policy → planner → approval → apply."""
    return (await asyncio.to_thread(_graphs))["triage"]


async def review(config: RunnableConfig) -> Any:
    """The review graph: a summary of one stored event's handling."""
    return (await asyncio.to_thread(_graphs))["review"]
