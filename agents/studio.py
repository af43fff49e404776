"""Entry point for the LangGraph server and Studio (``langgraph.json``): the triage graph
built from the settings, without a checkpointer (the server provides its own)."""

from __future__ import annotations

from datetime import UTC, datetime

from agents.classifier import ensure_classifier
from agents.deps import AgentDeps
from agents.graph import build_triage_graph
from knowledge import default_knowledge
from knowledge.regindex import BUILTIN_DIR, open_index
from settings import get_settings
from store import EventStore


def _build() -> object:
    settings = get_settings()
    k = default_knowledge()
    store = EventStore.open(settings.resolved_database_url, k)
    index = open_index(
        settings.data_dir,
        settings.resolved_chroma_path,
        str(settings.chroma_url) if settings.chroma_url else None,
    )
    if not index.units:
        index.build([BUILTIN_DIR])
    classifier = ensure_classifier(k, settings.data_dir / "models")
    return build_triage_graph(AgentDeps(store, k, index, classifier, lambda: datetime.now(UTC)))


triage = _build()
