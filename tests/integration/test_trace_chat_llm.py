"""With the LLM engine on, the question about a pollution's source is answered from the
computed trace without calling the model (a scripted server that is never called)."""

from __future__ import annotations

import shutil
from pathlib import Path

import openai
from langgraph.checkpoint.memory import InMemorySaver

from agents.chat import ChatAssistant
from agents.classifier import ensure_classifier
from agents.deps import AgentDeps
from agents.dispatch import Dispatcher
from agents.llm import LLM
from domain.access import Principal, Role
from knowledge import Knowledge
from knowledge.retrieval import open_index
from store import EventStore
from tests.fakes.openai_server import ScriptedServer
from tests.rivers import ingest_episode
from tools.scope import scope_for


def test_source_question_is_answered_from_the_trace_without_the_model(
    tmp_path: Path, prepared_data: Path, knowledge: Knowledge
) -> None:
    shutil.copytree(prepared_data, tmp_path / "data")
    store = EventStore.open(f"sqlite:///{tmp_path / 's.db'}", knowledge.store_rules)
    now = ingest_episode(store, knowledge, span_hours=24)  # until 12:00: 三江's alarm is open
    server = ScriptedServer([])
    try:
        client = openai.OpenAI(base_url=server.base_url, api_key="t", timeout=5, max_retries=0)
        index = open_index(tmp_path / "data", tmp_path / "data" / "chroma")
        classifier = ensure_classifier(knowledge, tmp_path / "data" / "models")
        deps = AgentDeps(
            store, knowledge, index, classifier, lambda: now, llm=LLM(client, "scripted")
        )
        saver = InMemorySaver()
        assistant = ChatAssistant(deps, saver, Dispatcher(deps, saver))
        who = Principal(
            1, "qj", "值班员", Role.DISTRICT, "500110", scope_for(knowledge, ["500110"])
        )
        chunks = list(
            assistant.stream(who, "t", "綦江这次溶解氧异常可能的源头是哪里", engine="llm")
        )
        done = next(c for c in chunks if c["type"] == "done")
        assert done["engine"] == "offline" and done["intent"] == "water_source"
        assert "1. 文龙街道沱湾雨污混流排污口" in done["content"]
        assert "綦江三江水质自动监测站" in done["content"]
        assert server.requests == []  # the model was not asked
    finally:
        server.close()
        store.close()
