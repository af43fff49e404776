"""What the agents are built with: the store, the knowledge, the regulation index, the offline
classifier and a clock. Passed to ``build_triage_graph``; never put in graph state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agents.classifier import SubtypeClassifier
from knowledge import Knowledge
from knowledge.regindex import RegulationIndex
from store import EventStore


@dataclass(frozen=True)
class AgentDeps:
    store: EventStore
    knowledge: Knowledge
    index: RegulationIndex
    classifier: SubtypeClassifier
    clock: Callable[[], datetime]


def audit(
    deps: AgentDeps,
    *,
    event_id: int,
    run_id: str,
    agent: str,
    engine: str,
    inputs: dict[str, Any],
    output: dict[str, Any],
    started: float,
    confidence: float | None = None,
    fallbacks: list[str] | None = None,
) -> dict[str, Any]:
    """Write the AI-decision record of one node and return its trace entry."""
    import time

    latency = round((time.perf_counter() - started) * 1000, 1)
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
        prompt_name=None,
        prompt_version=None,
    )
    return {"agent": agent, "engine": engine, "latency_ms": latency, "fallbacks": fallbacks or []}
