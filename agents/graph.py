"""Wiring only: the triage graph intake → routing → policy → planner → approval → apply, and
the same four drafting agents over a batch of events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langgraph.config import get_config
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from agents import approval, intake, planner, policy, routing
from agents.deps import AgentDeps
from agents.state import BatchState, TriageContext, TriageInput, TriageState

#: a drafting agent: (deps, the event's state so far, context, run id) -> its state update
Agent = Callable[[AgentDeps, TriageState, TriageContext, str], dict[str, Any]]


def _run_id() -> str:
    return str((get_config().get("configurable") or {}).get("thread_id", "adhoc"))


def build_triage_graph(
    deps: AgentDeps, checkpointer: Any = None, *, draft_only: bool = False
) -> Any:
    """The triage graph. ``draft_only`` ends after the planner (no approval, no checkpointer
    needed): what batch drafting and the draft endpoint use. Without it, a stored event
    (``event_id``) waits for approval; an event that is not stored (``event``) still ends
    after the planner."""

    def classify_event(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
        return intake.classify_event(deps, state, runtime.context or TriageContext(), _run_id())

    def route_event(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
        return routing.route_event(deps, state, runtime.context or TriageContext(), _run_id())

    def retrieve_regulations(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
        return policy.retrieve_regulations(
            deps, state, runtime.context or TriageContext(), _run_id()
        )

    def plan_disposal(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
        return planner.plan_disposal(deps, state, runtime.context or TriageContext(), _run_id())

    def human_approval(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
        return approval.human_approval(deps, state, runtime.context or TriageContext())

    def apply_decision(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
        return approval.apply_decision(deps, state, runtime.context or TriageContext())

    builder = StateGraph(TriageState, input_schema=TriageInput, context_schema=TriageContext)
    nodes = [classify_event, route_event, retrieve_regulations, plan_disposal]
    if not draft_only:
        nodes += [human_approval, apply_decision]
    for node in nodes:
        builder.add_node(node.__name__, node)
    builder.add_edge(START, "classify_event")
    builder.add_edge("classify_event", "route_event")
    builder.add_edge("route_event", "retrieve_regulations")
    builder.add_edge("retrieve_regulations", "plan_disposal")
    if draft_only:
        builder.add_edge("plan_disposal", END)
        return builder.compile(checkpointer=checkpointer, name="sanji-draft")
    # an event that is not stored ends with its draft: there is nothing to dispatch
    builder.add_conditional_edges(
        "plan_disposal",
        lambda state: "human_approval" if state.get("event_id") else END,
        ["human_approval", END],
    )
    builder.add_edge("human_approval", "apply_decision")
    builder.add_edge("apply_decision", END)
    return builder.compile(checkpointer=checkpointer, name="sanji-triage")


def merged(state: TriageState, update: dict[str, Any]) -> TriageState:
    """``state`` after a node's ``update``, as LangGraph merges it into TriageState: every key
    replaced, the trace (the one key with a reducer) appended to."""
    out: dict[str, Any] = {**state, **update}
    out["trace"] = [*state.get("trace", []), *update.get("trace", [])]
    return out  # type: ignore[return-value]


def build_batch_draft_graph(deps: AgentDeps) -> Any:
    """The draft graph over a batch of events that are not stored: the same four agents in
    the same order as ``build_triage_graph(draft_only=True)``, each node running its agent on
    every event of the batch in turn, so one LangGraph run (and its per-run cost, about twice
    an event's own compute) serves the whole batch. Each event's state evolves exactly as in
    its own run; an event whose agent raises keeps the error and skips the later agents,
    and the others go on."""

    def each(agent: Agent) -> Any:  # a LangGraph node taking (state, runtime)
        def node(state: BatchState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
            ctx, run_id = runtime.context or TriageContext(), _run_id()
            items = []
            for item in state["items"]:
                if item.get("error"):
                    items.append(item)
                    continue
                try:
                    update = agent(deps, item["state"], ctx, run_id)
                except Exception as exc:  # one bad text does not sink the batch
                    items.append({**item, "error": f"{type(exc).__name__}: {exc}"})
                    continue
                items.append({"state": merged(item["state"], update)})
            return {"items": items}

        return node

    agents: list[tuple[str, Agent]] = [
        ("classify_event", intake.classify_event),
        ("route_event", routing.route_event),
        ("retrieve_regulations", policy.retrieve_regulations),
        ("plan_disposal", planner.plan_disposal),
    ]
    builder = StateGraph(BatchState, input_schema=BatchState, context_schema=TriageContext)
    for name, agent in agents:
        builder.add_node(name, each(agent))
    names = [name for name, _ in agents]
    for a, b in zip([START, *names], [*names, END], strict=True):
        builder.add_edge(a, b)
    return builder.compile(name="sanji-draft-batch")
