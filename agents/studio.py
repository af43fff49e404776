"""Entry points for the LangGraph server and Studio (``langgraph.json``): graph factories, so
``langgraph dev`` imports this module at once. A factory returns its compiled graph without
building any part: the graph's nodes reach the parts through a stand-in that builds them
through the wiring root (the regulation index, the classifier: a minute on a fresh data
folder) when a run first needs one, and only once. Studio lists the graphs and their schemas
at once. The graphs have no checkpointer: the LangGraph server brings its own.

The triage graph takes ``{"event_id": …}`` for a stored event (the draft waits for an
officer's decision at ``human_approval``; resume with ``{"action": "approve", "officer": …}``)
or ``{"event": {…}}`` for an event that is not stored, which ends with its draft: there is no
event in the store to dispatch, and an approval that could not be applied would be a lie."""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig

    from agents.deps import AgentDeps
    from agents.runtime import Services

_lock = threading.Lock()
_graphs_lock = threading.Lock()
_services: list[Services] = []
_graphs: dict[str, Any] = {}


def services() -> Services:
    """The parts the graphs run on, built on first use."""
    with _lock:
        if not _services:
            from agents.runtime import build_services
            from settings import get_settings

            _services.append(build_services(get_settings(), durable=False))
        return _services[0]


class _DepsOnFirstUse:
    """Stands in for ``AgentDeps`` in the graphs' nodes: the first part a node reads builds
    the services. Private and special names are not parts (LangGraph probes a node's
    closure for ``__self__`` when it compiles a graph): those build nothing."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(services().deps, name)


def _graph(name: str) -> Any:
    """The compiled graph (wiring only: cheap), built once."""
    with _graphs_lock:
        if name not in _graphs:
            deps = cast("AgentDeps", _DepsOnFirstUse())
            if name == "triage":
                from agents.graph import build_triage_graph

                _graphs[name] = build_triage_graph(deps)
            else:
                from agents.review import build_review_graph

                _graphs[name] = build_review_graph(deps)
        return _graphs[name]


async def triage(config: RunnableConfig) -> Any:
    """The triage graph: intake → routing → policy → planner → approval → apply."""
    return await asyncio.to_thread(_graph, "triage")


async def review(config: RunnableConfig) -> Any:
    """The review graph: a summary of one stored event's handling."""
    return await asyncio.to_thread(_graph, "review")
