"""What the agents are built with: the store, the knowledge, the regulation index, the offline
classifier and a clock. Passed to ``build_triage_graph``; never put in graph state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # names for the annotations only: importing the graph builds nothing heavy
    from agents.casebook import CaseBook
    from agents.classifier import SubtypeClassifier
    from agents.feedback import FeedbackModel
    from agents.llm import LLM, Usage
    from knowledge import Knowledge
    from knowledge.retrieval import RegulationIndex
    from store import EventStore


@dataclass(frozen=True)
class AgentDeps:
    store: EventStore
    knowledge: Knowledge
    index: RegulationIndex
    classifier: SubtypeClassifier
    clock: Callable[[], datetime]
    llm: LLM | None = None
    #: routing corrections learned from officers (``sanji train --feedback``), if any
    feedback: FeedbackModel | None = None
    #: the level and lead type learned from labelled events (None: the rules decide alone)
    casebook: CaseBook | None = None


def audit(
    deps: AgentDeps,
    *,
    event_id: int | None,
    run_id: str,
    agent: str,
    engine: str,
    inputs: dict[str, Any],
    output: dict[str, Any],
    started: float,
    confidence: float | None = None,
    fallbacks: list[str] | None = None,
    prompt: Any = None,
    usage: Usage | None = None,
) -> dict[str, Any]:
    """Write the AI-decision record of one node (inputs, engine, model, prompt name and
    version, output, confidence, latency, fallbacks, model calls and tokens) and return its
    trace entry. ``event_id`` None: a decision about no single event (a chat turn; its run is
    the conversation); 0: an event that is not stored (a draft), which leaves no record."""
    import time

    latency = round((time.perf_counter() - started) * 1000, 1)
    asked = usage if usage is not None and usage.calls else None
    model = deps.llm.model if deps.llm is not None and asked else None
    if event_id != 0:
        deps.store.record_decision(
            event_id=event_id,
            run_id=run_id,
            agent=agent,
            engine=engine,
            inputs=inputs,
            output=output,
            now=deps.clock(),
            confidence=confidence,
            latency_ms=latency,
            fallbacks=fallbacks or [],
            model=model,
            prompt_name=prompt.name if prompt is not None else None,
            prompt_version=prompt.version if prompt is not None else None,
            llm_calls=asked.calls if asked else None,
            prompt_tokens=asked.prompt_tokens if asked else None,
            completion_tokens=asked.completion_tokens if asked else None,
        )
    entry: dict[str, Any] = {
        "agent": agent,
        "engine": engine,
        "latency_ms": latency,
        "fallbacks": fallbacks or [],
    }
    if asked:
        entry.update(
            llm_calls=asked.calls,
            prompt_tokens=asked.prompt_tokens,
            completion_tokens=asked.completion_tokens,
            model=model,
        )
    return entry
