"""The officers' chat assistant: a LangGraph agent over the deterministic tools, with the
conversation kept by the checkpointer (one thread per officer and conversation).

Offline engine (``agents.chat.replies``): ``agents.chat.intents`` parses the common questions
and the answer is composed from tool results. LLM engine (``agents.chat.toolloop``): the model
calls the same tools, its answer is streamed, and it is checked: every event id and law it
names must come from a tool result, else the offline answer is given. Every tool runs under the
officer's scope. Dispatching is only ever proposed; it happens when the officer confirms in the
next turn, and it is recorded like any approval. Every turn the model is asked is audited."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from agents.chat.intents import Intent, parse
from agents.chat.replies import OfflineReplies
from agents.chat.state import ChatContext, ChatState, Reply, Write
from agents.chat.toolloop import PROMPT, Turn, run_tool_loop
from agents.deps import AgentDeps, audit
from agents.errors import LLMUnusable
from agents.llm import Usage
from domain.access import Principal


class ChatAssistant:
    def __init__(self, deps: AgentDeps, checkpointer: Any, dispatcher: Any) -> None:
        self.deps = deps
        self.dispatcher = dispatcher
        self.offline = OfflineReplies(deps, dispatcher)
        self.graph = self._build(checkpointer)

    # -- graph -------------------------------------------------------------------------------

    def _build(self, checkpointer: Any) -> Any:
        def respond(state: ChatState, runtime: Runtime[ChatContext]) -> dict[str, Any]:
            ctx = runtime.context
            assert ctx is not None
            write = get_stream_writer()
            question = state["messages"][-1]["content"]
            reply = self.answer(question, state, ctx, write)
            write({"type": "sources", **reply.sources()})
            if reply.proposal:
                write({"type": "proposal", **reply.proposal})
            update: dict[str, Any] = {
                "messages": [
                    {
                        "role": "assistant",
                        "content": reply.text,
                        "sources": reply.sources(),
                        "intent": reply.intent,
                        "engine": reply.engine,
                    }
                ],
                "focus_event": reply.focus_event or state.get("focus_event"),
            }
            if reply.proposal is not None or reply.clear_proposal:
                update["proposal"] = reply.proposal
            return update

        builder = StateGraph(ChatState, context_schema=ChatContext)
        builder.add_node("respond", respond)
        builder.add_edge(START, "respond")
        builder.add_edge("respond", END)
        return builder.compile(checkpointer=checkpointer, name="sanji-chat")

    def stream(
        self,
        principal: Principal,
        thread_id: str,
        message: str,
        *,
        engine: str = "auto",
        event_id: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Chunks of the answer as they come: ``delta`` (text), ``sources``, ``proposal``, and
        finally ``done`` with the whole answer."""
        use_llm = engine == "llm" or (engine == "auto" and self.deps.llm is not None)
        thread = _thread(principal, thread_id)
        config = {"configurable": {"thread_id": thread}}
        turn: dict[str, Any] = {"messages": [{"role": "user", "content": message}]}
        if event_id is not None:
            turn["focus_event"] = event_id
        ctx = ChatContext(principal, engine="llm" if use_llm else "offline", thread=thread)
        for mode, chunk in self.graph.stream(
            turn, config, context=ctx, stream_mode=["custom", "values"]
        ):
            if mode == "custom":
                yield chunk
            else:
                last = chunk["messages"][-1] if chunk.get("messages") else None
                if last and last["role"] == "assistant":
                    yield {"type": "done", **last}

    def history(self, principal: Principal, thread_id: str) -> list[dict[str, Any]]:
        config = {"configurable": {"thread_id": _thread(principal, thread_id)}}
        return list(self.graph.get_state(config).values.get("messages", []))

    # -- answering ---------------------------------------------------------------------------

    def answer(self, question: str, state: ChatState, ctx: ChatContext, write: Write) -> Reply:
        k = self.deps.knowledge
        intent = parse(question, k, self.deps.clock())
        if intent.kind in ("confirm", "cancel") and state.get("proposal"):
            reply = self.offline.answer(intent, state, ctx)
        elif intent.kind == "water_source":
            # an upstream trace is computed evidence: the model has nothing to add to it
            reply = self.offline.answer(intent, state, ctx)
        elif ctx.engine == "llm" and self.deps.llm is not None:
            reply = self._ask_model(question, intent, state, ctx, write)
            if reply.engine == "llm":
                return reply  # streamed as the model wrote it
        else:
            reply = self.offline.answer(intent, state, ctx)
        for piece in _pieces(reply.text):
            write({"type": "delta", "text": piece})
        return reply

    def _ask_model(
        self, question: str, intent: Intent, state: ChatState, ctx: ChatContext, write: Write
    ) -> Reply:
        """The model's answer, or the offline one when it is unusable; either way the turn is
        audited (agent ``chat``, no single event: the conversation is the run)."""
        started, usage = time.perf_counter(), Usage()
        turn = Turn(
            principal=ctx.principal,
            question=question,
            history=state.get("messages", [])[:-1],
            focus_event=state.get("focus_event"),
        )
        fallbacks: list[str] = []
        try:
            reply = run_tool_loop(
                self.deps, self.offline.pending_draft, turn, write, usage, self.offline.ownership
            )
        except LLMUnusable as exc:
            fallbacks.append(str(exc))
            reply = self.offline.answer(intent, state, ctx)
            reply.notes.append(f"大模型回答不可用（{exc}），以下为离线引擎的回答。")
            reply.text = reply.notes[-1] + "\n" + reply.text
        audit(
            self.deps,
            event_id=None,
            run_id=ctx.thread,
            agent="chat",
            engine=reply.engine,
            inputs={"question": question[:500], "focus_event": turn.focus_event},
            output={"intent": reply.intent, "text": reply.text[:2000], **reply.sources()}
            | ({"proposal": reply.proposal} if reply.proposal else {}),
            started=started,
            fallbacks=fallbacks,
            prompt=PROMPT,
            usage=usage,
        )
        return reply


def _thread(principal: Principal, thread_id: str) -> str:
    """The checkpointer thread of one officer's conversation."""
    return f"chat:{principal.username}:{thread_id}"


def _pieces(text: str, size: int = 12) -> Iterator[str]:
    """The answer in small pieces, so the console shows it as it comes."""
    for line in re.split(r"(?<=\n)", text):
        for i in range(0, len(line), size):
            yield line[i : i + size]
