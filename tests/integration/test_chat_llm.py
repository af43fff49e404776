"""The chat assistant's LLM engine against a scripted OpenAI-compatible server over real HTTP
(streaming, tool calls): tool results reach the model under the officer's scope, the answer
streams, and an answer that cites what no tool returned, or a failing endpoint, falls back to
the offline engine."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from langgraph.checkpoint.memory import InMemorySaver

import prompts
from agents.chat import ChatAssistant
from agents.classifier import ensure_classifier
from agents.deps import AgentDeps
from agents.dispatch import Dispatcher
from agents.llm import LLM
from demo.load import load_demo
from domain.access import Principal, Role
from knowledge import Knowledge
from knowledge.retrieval import open_index
from store import EventStore
from tests.conftest import DEMO_NOW
from tests.fakes.openai_server import Say, ScriptedServer, Status, ToolCalls
from tools import events
from tools.scope import scope_for


@pytest.fixture(scope="module")
def parts(
    tmp_path_factory: pytest.TempPathFactory, prepared_data: Path, knowledge: Knowledge
) -> Iterator[tuple[EventStore, Any, Any]]:
    root = tmp_path_factory.mktemp("chat-llm")
    shutil.copytree(prepared_data, root / "data")
    store = EventStore.open(f"sqlite:///{root / 's.db'}", knowledge.store_rules)
    load_demo(store, knowledge, seed=11, now=DEMO_NOW, count=300)
    index = open_index(root / "data", root / "data" / "chroma")
    yield store, index, ensure_classifier(knowledge, root / "data" / "models")
    store.close()


def officer(k: Knowledge, name: str, role: Role) -> Principal:
    code = next(j.code for j in k.jurisdictions.values() if j.name == name)
    return Principal(1, "duty", "值班员", role, code, scope_for(k, [code]))


def assistant(
    parts: tuple, k: Knowledge, script: list[Any]
) -> tuple[ChatAssistant, ScriptedServer]:
    store, index, classifier = parts
    server = ScriptedServer(script)
    client = openai.OpenAI(base_url=server.base_url, api_key="t", timeout=5, max_retries=0)
    deps = AgentDeps(store, k, index, classifier, lambda: DEMO_NOW, llm=LLM(client, "scripted"))
    saver = InMemorySaver()
    return ChatAssistant(deps, saver, Dispatcher(deps, saver)), server


def run(a: ChatAssistant, who: Principal, thread: str, message: str) -> list[dict[str, Any]]:
    return list(a.stream(who, thread, message, engine="llm"))


def final(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    return next(c for c in chunks if c["type"] == "done")


def overdue_ids(parts: tuple, k: Knowledge, who: Principal) -> list[int]:
    store = parts[0]
    rows = events.list_overdue(store, k, who.scope, events.OverdueQuery(as_of=DEMO_NOW))
    return [r.id for r in rows]


def test_the_model_calls_a_tool_and_its_answer_streams_with_sources(
    parts: tuple, knowledge: Knowledge
) -> None:
    who = officer(knowledge, "渝中区", Role.DISTRICT)
    ids = overdue_ids(parts, knowledge, who)
    assert ids
    a, server = assistant(
        parts,
        knowledge,
        [
            ToolCalls([("list_overdue", {"limit": 5})]),
            Say(f"渝中区目前有超时事件，最早到期的是 E{ids[0]}，请尽快督办。"),
        ],
    )
    chunks = run(a, who, "t1", "渝中区有哪些事件超时了")
    server.close()
    answer = final(chunks)
    assert answer["engine"] == "llm"
    assert answer["sources"]["events"] == [ids[0]]
    assert len([c for c in chunks if c["type"] == "delta"]) > 3
    first, second = server.requests
    assert first["stream"] is True
    assert {t["function"]["name"] for t in first["tools"]} >= {"list_overdue", "get_event"}
    tool_reply = next(m for m in second["messages"] if m["role"] == "tool")
    assert f'"id": {ids[0]}' in tool_reply["content"]


def test_an_answer_citing_an_event_no_tool_returned_falls_back(
    parts: tuple, knowledge: Knowledge
) -> None:
    who = officer(knowledge, "渝中区", Role.DISTRICT)
    a, server = assistant(
        parts,
        knowledge,
        [ToolCalls([("list_overdue", {})]), Say("超时最久的是 E987654，已超时 300 小时。")],
    )
    chunks = run(a, who, "t2", "渝中区今天有哪些超时未办结的事件")
    server.close()
    answer = final(chunks)
    assert answer["engine"] == "offline" and "大模型回答不可用" in answer["content"]
    assert "E987654" in answer["content"].split("\n")[0]  # named in the reason only
    assert 987654 not in answer["sources"]["events"]
    assert any(c["type"] == "reset" for c in chunks)  # the console drops what streamed


def test_a_failing_endpoint_falls_back_to_the_offline_answer(
    parts: tuple, knowledge: Knowledge
) -> None:
    who = officer(knowledge, "渝中区", Role.DISTRICT)
    a, server = assistant(parts, knowledge, [Status(400)])
    answer = final(run(a, who, "t3", "渝中区今天有哪些超时未办结的事件"))
    server.close()
    assert answer["engine"] == "offline" and answer["intent"] == "overdue"
    assert "模型服务不可用" in answer["content"]


def test_tools_run_under_the_officers_scope(parts: tuple, knowledge: Knowledge) -> None:
    store = parts[0]
    who = officer(knowledge, "解放碑街道", Role.STREET)
    rows, _ = store.search(scope_for(knowledge, [knowledge.city.code]), limit=200, count=False)
    foreign = next(r["id"] for r in rows if r["street"] not in (who.jurisdiction, None))
    a, server = assistant(
        parts,
        knowledge,
        [ToolCalls([("get_event", {"event_id": foreign})]), Say("没有查到这件事件。")],
    )
    answer = final(run(a, who, "t4", f"E{foreign} 是什么情况"))
    server.close()
    tool_reply = next(m for m in server.requests[1]["messages"] if m["role"] == "tool")
    assert "不在您的辖区" in tool_reply["content"]
    assert answer["engine"] == "llm" and answer["sources"]["events"] == []


def test_the_model_can_only_propose_a_dispatch(parts: tuple, knowledge: Knowledge) -> None:
    store = parts[0]
    who = officer(knowledge, "重庆市", Role.CITY)
    rows, _ = store.search(who.scope, statuses=["received"], limit=1, count=False)
    event_id = rows[0]["id"]
    a, server = assistant(
        parts,
        knowledge,
        [
            ToolCalls([("propose_dispatch", {"event_id": event_id})]),
            Say(f"已为 E{event_id} 起草派单，请确认。"),
        ],
    )
    chunks = run(a, who, "t5", f"把 E{event_id} 派出去")
    assert next(c for c in chunks if c["type"] == "proposal")["event_id"] == event_id
    assert store.get_event(event_id).status.value == "received"  # nothing happened yet
    confirmed = final(run(a, who, "t5", "确认派单"))  # decided offline: no model call
    server.close()
    assert "已派单" in confirmed["content"]
    assert store.get_event(event_id).status.value == "dispatched"
    assert len(server.requests) == 2
    assert len(store.run_decisions("chat:duty:t5")) == 1  # the confirmation asked no model


def test_every_model_turn_is_audited_with_its_prompt_calls_and_tokens(
    parts: tuple, knowledge: Knowledge
) -> None:
    store = parts[0]
    who = officer(knowledge, "渝中区", Role.DISTRICT)
    ids = overdue_ids(parts, knowledge, who)
    a, server = assistant(
        parts,
        knowledge,
        [
            ToolCalls([("list_overdue", {"limit": 5})]),
            Say(f"最早到期的是 E{ids[0]}。"),
            Status(400),
        ],
    )
    run(a, who, "t6", "渝中区有哪些事件超时了")
    run(a, who, "t6", "渝中区今天有哪些超时未办结的事件")
    server.close()
    prompt = prompts.load("chat.answer")
    first, second = store.run_decisions("chat:duty:t6")
    assert (first["agent"], first["engine"], first["model"], first["event_id"]) == (
        "chat",
        "llm",
        "scripted",
        None,  # a conversation, not one event: kept out of any event's record
    )
    assert (first["prompt_name"], first["prompt_version"]) == ("chat.answer", prompt.version)
    assert first["llm_calls"] == 2 and first["prompt_tokens"] == 200
    assert first["completion_tokens"] > 2  # the streamed answer's chunks, as the server counts
    assert first["inputs"]["question"] == "渝中区有哪些事件超时了"
    assert first["output"]["events"] == [ids[0]] and first["fallbacks"] == []
    assert first["latency_ms"] > 0
    assert (second["engine"], second["llm_calls"], second["prompt_tokens"]) == ("offline", 1, 0)
    assert second["fallbacks"] == ["模型服务不可用：BadRequestError"]
    assert second["output"]["intent"] == "overdue"
    system, _ = prompt.render(focus_event="无", question="")
    assert server.requests[0]["messages"][0] == {"role": "system", "content": system}
    assert server.requests[0]["stream_options"] == {"include_usage": True}
