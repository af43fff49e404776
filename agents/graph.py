"""Wiring only: the triage graph intake → routing → policy → planner → approval → apply."""

from __future__ import annotations

from typing import Any

from langgraph.config import get_config
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from agents import approval, intake, planner, policy, routing
from agents.deps import AgentDeps
from agents.state import TriageContext, TriageInput, TriageState


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
