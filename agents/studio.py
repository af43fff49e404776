"""Entry points for the LangGraph server and Studio (``langgraph.json``): both graphs built
through the wiring root, without a checkpointer (the server provides its own)."""

from __future__ import annotations

from agents.graph import build_triage_graph
from agents.review import build_review_graph
from agents.runtime import build_services
from settings import get_settings

_services = build_services(get_settings(), durable=False)
triage = build_triage_graph(_services.deps)
review = build_review_graph(_services.deps)
