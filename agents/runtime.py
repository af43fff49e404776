"""Build the agents' dependencies from the settings (CLI, server, LangGraph Studio)."""

from __future__ import annotations

from datetime import UTC, datetime

from agents.classifier import ensure_classifier
from agents.deps import AgentDeps
from agents.llm import build_llm
from knowledge import default_knowledge
from knowledge.retrieval import open_ready_index
from settings import Settings
from store import EventStore


def build_deps(settings: Settings) -> AgentDeps:
    k = default_knowledge()
    store = EventStore.open(settings.resolved_database_url, k.store_rules)
    index = open_ready_index(
        settings.data_dir,
        settings.resolved_chroma_path,
        str(settings.chroma_url) if settings.chroma_url else None,
    )
    classifier = ensure_classifier(k, settings.data_dir / "models")
    return AgentDeps(
        store, k, index, classifier, lambda: datetime.now(UTC), llm=build_llm(settings)
    )
