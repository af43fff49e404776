"""Entry points for the LangGraph server and Studio (``langgraph.json``): both graphs built
from the settings, without a checkpointer (the server provides its own)."""

from __future__ import annotations

from agents.graph import build_triage_graph
from agents.review import build_review_graph
from agents.runtime import build_deps
from settings import get_settings

_deps = build_deps(get_settings())
triage = build_triage_graph(_deps)
review = build_review_graph(_deps)
