"""The chat assistant's LLM engine: tool calling through the OpenAI-compatible endpoint, the
answer streamed as the model writes it, then checked: every event id and law it names must
come from a tool result, else ``LLMUnusable`` and the assistant gives the offline answer.

It knows nothing of the assistant: it gets the agents' dependencies, the officer's turn, and
the function that drafts a dispatch, as arguments."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, Field

import prompts
from agents.chat.ownership_check import ownership_problems
from agents.chat.state import Reply, Write
from agents.deps import AgentDeps
from agents.errors import LLMUnavailable, LLMUnusable, NotTriageable
from agents.llm import ToolCall, Usage
from domain.access import Principal
from domain.models import Event
from store import NotFound
from tools.langchain import ToolDeps, build_tools
from tools.scope import visible_event

PROMPT = prompts.load("chat.answer")
MAX_TOOL_ROUNDS = 5
HISTORY = 10  # earlier messages of the conversation the model sees
EVENT_REF = re.compile(r"(?<![A-Za-z0-9])E(\d{1,9})\b")
LAW_REF = re.compile(r"《([^》]{2,60})》")

#: the dispatch draft waiting for approval, as this officer may read it (drafted if none)
DraftFor = Callable[[Event, Principal], dict[str, Any]]
#: who owns a matter or an event for this officer (subject, jurisdiction, event id): the
#: drafts' decisions (``agents.chat.ownership``)
OwnerFor = Callable[[Principal, str, str | None, int | None], Any]


@dataclass(frozen=True)
class Turn:
    """What the model is asked: by whom, the question, the conversation so far (role and
    content of the earlier messages) and the event the officer is looking at."""

    principal: Principal
    question: str
    history: list[dict[str, Any]]
    focus_event: int | None = None


class ProposeArgs(BaseModel):
    event_id: int = Field(description="要派单的事件编号")


def _tools(
    deps: AgentDeps,
    principal: Principal,
    draft_for: DraftFor,
    proposals: list[dict[str, Any]],
    owner_for: OwnerFor | None = None,
) -> list[BaseTool]:
    def ownership(subject: str, jurisdiction: str | None, event_id: int | None) -> Any:
        assert owner_for is not None
        return owner_for(principal, subject, jurisdiction, event_id)

    tools = build_tools(
        ToolDeps(
            deps.store,
            deps.knowledge,
            principal.scope,
            deps.clock,
            deps.index,
            actor=principal.actor,
            ownership=ownership if owner_for is not None else None,
        )
    )

    def propose_dispatch(event_id: int) -> Any:
        try:
            event = visible_event(deps.store, principal.scope, principal.actor, event_id)
        except NotFound as exc:
            return {"error": str(exc)}
        try:
            draft = draft_for(event, principal)
        except NotTriageable as exc:
            return {"error": str(exc)}
        proposal = {
            "action": "dispatch",
            "event_id": event_id,
            "approval_id": draft["approval"]["id"],
            "lead": draft["lead_department"],
        }
        proposals.append(proposal)
        return {
            "event_id": event_id,
            "draft": {
                k: draft[k]
                for k in ("category", "lead_department", "assisting_departments", "level")
            }
            | {"legal_basis": draft["legal_basis"], "deadlines": draft["deadlines"]},
            "note": "派单草稿已生成，等待工作人员确认后才派出",
        }

    tools.append(
        StructuredTool.from_function(
            func=propose_dispatch,
            name="propose_dispatch",
            description="为一件事件起草派单，等待工作人员确认（不会直接派出）。",
            args_schema=ProposeArgs,
        )
    )
    return tools


def run_tool_loop(
    deps: AgentDeps,
    draft_for: DraftFor,
    turn: Turn,
    write: Write,
    usage: Usage,
    owner_for: OwnerFor | None = None,
) -> Reply:
    """Let the model call the tools (at most ``MAX_TOOL_ROUNDS`` rounds) until it answers;
    its text streams to ``write`` as ``delta`` chunks (``reset`` when it is withdrawn). Every
    model call is counted in ``usage``. An answer after the ``ownership`` tool may name only
    the departments and the level that tool returned."""
    llm = deps.llm
    assert llm is not None
    proposals: list[dict[str, Any]] = []
    owned: list[dict[str, Any]] = []  # the ownership tool's answers in this turn
    tools = {t.name: t for t in _tools(deps, turn.principal, draft_for, proposals, owner_for)}
    specs = [convert_to_openai_tool(t) for t in tools.values()]
    focus = f"E{turn.focus_event}" if turn.focus_event else "无"
    system, user = PROMPT.render(focus_event=focus, question=turn.question)
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}]
    messages += [{"role": m["role"], "content": m["content"]} for m in turn.history[-HISTORY:]]
    messages.append({"role": "user", "content": user})
    seen_events: set[int] = set()
    seen_laws: set[str] = set()
    articles: list[dict[str, Any]] = []
    streamed: list[str] = []

    def on_text(text: str) -> None:
        streamed.append(text)
        write({"type": "delta", "text": text})

    for _ in range(MAX_TOOL_ROUNDS):
        try:
            answer = llm.stream_tools(messages, specs, usage, on_text)
        except LLMUnavailable as exc:
            if streamed:
                write({"type": "reset"})
            raise LLMUnusable(str(exc)) from exc
        content, calls = answer.text, answer.calls
        if not calls:
            unknown = _unsupported(content, seen_events, seen_laws, deps)
            unknown += ownership_problems(content, owned)
            if unknown:
                write({"type": "reset"})
                raise LLMUnusable("回答中出现工具结果以外的" + "、".join(unknown))
            reply = Reply(
                content,
                events=sorted(seen_events & set(_event_refs(content))),
                articles=[a for a in articles if a["title"] in content],
                intent="llm",
                engine="llm",
            )
            if proposals:
                reply.focus_event = proposals[-1]["event_id"]
                if turn.principal.role.acts:
                    reply.proposal = proposals[-1]
            return reply
        messages.append(
            {
                "role": "assistant",
                "content": content or None,
                "tool_calls": [
                    {
                        "id": c.id,
                        "type": "function",
                        "function": {"name": c.name, "arguments": c.arguments},
                    }
                    for c in calls
                ],
            }
        )
        for c in calls:
            result = _call_tool(tools, c)
            _harvest(result, seen_events, seen_laws, articles)
            if c.name == "ownership" and isinstance(result, dict) and "lead" in result:
                owned.append(result)
            messages.append(
                {"role": "tool", "tool_call_id": c.id, "content": _dumps(result)[:8000]}
            )
        streamed.clear()
    raise LLMUnusable(f"工具调用超过 {MAX_TOOL_ROUNDS} 轮仍未给出回答")


def _call_tool(tools: dict[str, BaseTool], call: ToolCall) -> Any:
    tool = tools.get(call.name)
    if tool is None:
        return {"error": f"没有名为 {call.name} 的工具"}
    try:
        args = json.loads(call.arguments or "{}")
    except ValueError:
        return {"error": "参数不是合法的 JSON"}
    try:
        return tool.invoke(args)
    except Exception as exc:  # the model sees the error and may try again
        return {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}


def _harvest(value: Any, events: set[int], laws: set[str], articles: list[dict[str, Any]]) -> None:
    """Collect the event ids and laws a tool result contains: what an answer may cite."""
    if isinstance(value, dict):
        if isinstance(value.get("title"), str) and "article" in value:
            laws.add(value["title"])
            if "citation" in value:
                articles.append({key: value[key] for key in ("title", "article", "citation")})
        for key in ("id", "event_id", "duplicate_of"):
            if isinstance(value.get(key), int):
                events.add(int(value[key]))
        for v in value.values():
            _harvest(v, events, laws, articles)
    elif isinstance(value, list):
        for v in value:
            _harvest(v, events, laws, articles)


def _event_refs(text: str) -> list[int]:
    return [int(m) for m in EVENT_REF.findall(text)]


def _unsupported(text: str, events: set[int], laws: set[str], deps: AgentDeps) -> list[str]:
    problems = [f"事件 E{n}" for n in _event_refs(text) if n not in events]
    titles = set(deps.index.titles())
    for title in LAW_REF.findall(text):
        if title not in laws and title not in titles:
            problems.append(f"法规《{title}》")
    return problems


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
