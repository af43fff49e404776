"""Graph state and per-run context. State holds only serialisable data (it is checkpointed);
clients, stores and settings arrive through ``AgentDeps`` when the graph is built."""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

# pydantic (and so the LangGraph server's input/output schemas) reads typing.TypedDict only
# on Python 3.12+; typing_extensions' works on 3.11 as well
from typing_extensions import TypedDict


class TriageInput(TypedDict, total=False):
    event_id: int  # a stored event
    event: dict[str, Any]  # or an event that is not stored (EventCreate as JSON): draft only


class TriageState(TypedDict, total=False):
    event_id: int  # 0 while drafting for an event that is not stored
    event: dict[str, Any]
    text: str  # masked: personal information never flows downstream
    address: str | None  # the address as reported (the casebook reads it beside the text)
    classification: dict[str, Any]  # subtype, category, confidence, alternatives, urgency, engine
    location: dict[str, Any]  # street, district, confidence, ambiguous, explanation
    duplicates: list[dict[str, Any]]
    injection: list[str]  # phrases that look like instructions to the model
    routing: dict[str, Any]  # level, lead, assisting, escalation rules
    citations: list[dict[str, Any]]
    # offered beside the order, not cited (each says why): the search hit, a sub-case article
    # the report does not name, an unsure subtype's unmatched usual articles
    proposed_citations: list[dict[str, Any]]
    draft: dict[str, Any]  # the dispatch order (DispatchOrder as JSON)
    needs_human: list[str]  # why a person must decide (low confidence, duplicate, injection…)
    decision: dict[str, Any]  # what the officer decided at the approval step
    outcome: str  # dispatched | rejected | merged
    trace: Annotated[list[dict[str, Any]], operator.add]  # per node: engine, latency, fallbacks


class BatchItem(TypedDict, total=False):
    state: TriageState  # one event's triage state, as its own draft run would hold it
    error: str  # set when one of its agents raised: the later agents skip it


class BatchState(TypedDict):
    """The batch draft graph's state: one item per event, in the caller's order."""

    items: list[BatchItem]


@dataclass(frozen=True)
class TriageContext:
    """Per-run knobs, read by nodes through ``runtime.context`` (evals vary them per run)."""

    engine: Literal["offline", "llm"] = "offline"
    model: str | None = None
    top_k: int = 5
    # below: an officer confirms the subtype (chosen on real messages: knowledge/data/confidence.yaml)
    min_confidence: float = field(default_factory=lambda: _needs_human_below())
    zero_shot_below: float = 0.2  # below: the zero-shot path is consulted as a second opinion
    duplicate_score: float = 0.6
    actor: str = "sanji"


def _needs_human_below() -> float:
    from agents.classifier import confidence_calibration

    return float(confidence_calibration()["needs_human_below"])
