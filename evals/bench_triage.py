"""Benchmark of the offline triage path: per-event latency up to the approval step, and batch
throughput. Reports numbers; never fails on timing.

    python -m evals.bench_triage --events 200
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agents.classifier import ensure_classifier, zero_shot
from agents.deps import AgentDeps
from agents.graph import build_triage_graph
from agents.state import TriageContext
from demo.generator import generate_events
from demo.load import load_demo
from knowledge import default_knowledge
from knowledge.retrieval import BUILTIN_DIR, open_index
from store import EventStore

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def run(events: int, workdir: Path) -> dict[str, Any]:
    from langgraph.checkpoint.memory import InMemorySaver

    k = default_knowledge()
    store = EventStore.open(f"sqlite:///{workdir / 'sanji.db'}", k.store_rules)
    load_demo(store, k, seed=5, now=NOW, count=640)
    index = open_index(workdir / "data", workdir / "chroma")
    index.build([BUILTIN_DIR])
    classifier = ensure_classifier(k, workdir / "models")
    deps = AgentDeps(store, k, index, classifier, lambda: NOW)
    graph = build_triage_graph(deps, InMemorySaver())
    fresh = generate_events(k, seed=77, now=NOW, count=events)
    ids = [
        store.add_event(e.create.model_copy(update={"external_id": f"bench-{n}"}), now=NOW)[0].id
        for n, e in enumerate(fresh)
    ]
    graph.invoke(
        {"event_id": ids[0]}, {"configurable": {"thread_id": "warm"}}, context=TriageContext()
    )  # warm up
    zero_shot(k, "预热")  # the zero-shot path embeds the taxonomy once per process
    latencies = []
    started = time.perf_counter()
    for n, event_id in enumerate(ids[1:]):
        t = time.perf_counter()
        graph.invoke(
            {"event_id": event_id},
            {"configurable": {"thread_id": f"b{n}"}},
            context=TriageContext(),
        )
        latencies.append((time.perf_counter() - t) * 1000)
    total = time.perf_counter() - started
    latencies.sort()
    result = {
        "events": len(latencies),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
        "max_ms": round(latencies[-1], 1),
        "slowest": [round(x) for x in latencies[-5:]],
        "events_per_s": round(len(latencies) / total, 1),
    }
    # batch drafting: the draft-only graph (no approval step, no checkpoints) over fresh events
    batch = generate_events(k, seed=78, now=NOW, count=events)
    batch_ids = [
        store.add_event(e.create.model_copy(update={"external_id": f"batch-{n}"}), now=NOW)[0].id
        for n, e in enumerate(batch)
    ]
    drafts = build_triage_graph(deps, draft_only=True)
    started = time.perf_counter()
    for event_id in batch_ids:
        drafts.invoke({"event_id": event_id}, context=TriageContext())
    result["batch_events_per_s"] = round(len(batch_ids) / (time.perf_counter() - started), 1)
    store.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="offline triage benchmark")
    parser.add_argument("--events", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(run(args.events, Path(tmp)), ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
