"""Ownership questions on the chat's LLM engine, against the scripted OpenAI-compatible server
over real HTTP: the model gets an ``ownership`` tool that returns the drafts' decision, and an
answer naming a department or a level that tool did not return falls back to the offline
answer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agents.chat import ChatAssistant
from demo.load import load_demo
from domain.access import Principal, Role
from knowledge import Knowledge
from store import EventStore
from tests.conftest import DEMO_NOW, offline_deps
from tests.fakes.openai_server import Say, ToolCalls
from tests.integration.test_chat_llm import assistant, officer
from tools.routing import DepartmentsQuery, departments_for


@pytest.fixture(scope="module")
def parts(
    tmp_path_factory: pytest.TempPathFactory, prepared_data: Path, knowledge: Knowledge
) -> Iterator[tuple[EventStore, Any, Any]]:
    root = tmp_path_factory.mktemp("chat-owner-llm")
    with offline_deps(root, prepared_data, knowledge, lambda: DEMO_NOW) as d:
        load_demo(d.store, knowledge, seed=11, now=DEMO_NOW, count=100)
        yield d.store, d.index, d.classifier


def street_officer(k: Knowledge) -> Principal:
    return officer(k, "解放碑街道", Role.STREET)


def final(a: ChatAssistant, who: Principal, thread: str, message: str) -> dict[str, Any]:
    chunks = list(a.stream(who, thread, message, engine="llm"))
    done: dict[str, Any] = next(c for c in chunks if c["type"] == "done")
    return done


def vending_lead(k: Knowledge, who: Principal) -> str:
    """The lead of 占道经营 at the officer's street, from the knowledge."""
    return departments_for(
        k, DepartmentsQuery(subtype="CA01", jurisdiction=who.jurisdiction)
    ).lead.name


QUESTION = "占道经营归谁管，依据哪条法规？"
TOOL = ToolCalls([("ownership", {"subject": "占道经营"})])


def test_the_model_answers_from_the_ownership_tool(parts: tuple, knowledge: Knowledge) -> None:
    who = street_officer(knowledge)
    lead = vending_lead(knowledge, who)
    a, server = assistant(
        parts, knowledge, [TOOL, Say(f"占道经营由{lead}主办，依据《城市道路管理条例》第三十条。")]
    )
    answer = final(a, who, "o1", QUESTION)
    server.close()
    assert answer["engine"] == "llm" and lead in answer["content"]
    first, second = server.requests
    assert "ownership" in {t["function"]["name"] for t in first["tools"]}
    result = json.loads(next(m for m in second["messages"] if m["role"] == "tool")["content"])
    assert result["lead"]["name"] == lead and result["level"]
    assert result["lead"]["duties"] and result["sources"]
    assert any(a["citation"] == "《城市道路管理条例》第三十条" for a in result["articles"])
    assert answer["sources"]["articles"]  # the article the model cited, from the tool


def test_a_department_the_tool_did_not_return_falls_back(
    parts: tuple, knowledge: Knowledge
) -> None:
    who = street_officer(knowledge)
    lead = vending_lead(knowledge, who)
    wrong = next(
        d.name
        for d in knowledge.departments.values()
        if d.type == "eco_env" and d.jurisdiction == knowledge.jurisdiction(who.jurisdiction).parent
    )
    a, server = assistant(parts, knowledge, [TOOL, Say(f"占道经营归{wrong}管。")])
    answer = final(a, who, "o2", QUESTION)
    server.close()
    text = answer["content"]
    assert answer["engine"] == "offline" and answer["intent"] == "ownership"
    assert "大模型回答不可用" in text and wrong in text.split("\n")[0]  # named in the reason only
    assert f"主办：{lead}" in text  # the offline answer, from the same decision


def test_a_level_the_tool_did_not_return_falls_back(parts: tuple, knowledge: Knowledge) -> None:
    who = street_officer(knowledge)
    a, server = assistant(
        parts,
        knowledge,
        [
            ToolCalls([("ownership", {"subject": "占道经营"})]),
            Say("占道经营需要上报区里，由区县级承办。"),
        ],
    )
    answer = final(a, who, "o3", "占道经营要不要上报区里")
    server.close()
    result = json.loads(
        next(m for m in server.requests[1]["messages"] if m["role"] == "tool")["content"]
    )
    if result["level"] == "street":
        assert answer["engine"] == "offline" and "层级" in answer["content"].split("\n")[0]
        assert answer["content"].split("\n")[2].startswith("不需要上报区里")
    else:  # the knowledge puts it above the street: the model's words are then the tool's
        assert answer["engine"] == "llm"


def test_the_ownership_tool_keeps_the_officers_scope(parts: tuple, knowledge: Knowledge) -> None:
    who = street_officer(knowledge)
    a, server = assistant(
        parts,
        knowledge,
        [
            ToolCalls([("ownership", {"subject": "燃气泄漏", "jurisdiction": "观音桥街道"})]),
            Say("观音桥街道不在您的辖区内，无法回答。"),
        ],
    )
    answer = final(a, who, "o4", "观音桥街道的燃气泄漏归谁管")
    server.close()
    tool_reply = next(m for m in server.requests[1]["messages"] if m["role"] == "tool")
    assert "OutOfScope" in tool_reply["content"] and "lead" not in tool_reply["content"]
    assert answer["engine"] == "llm"
