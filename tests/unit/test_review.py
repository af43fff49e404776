"""The review (复盘) of events with real demo histories, on SQLite and PostgreSQL."""

from typing import Any

from agents.deps import AgentDeps
from agents.review import build_review_graph, summarize_review
from knowledge import Knowledge
from store import EventStore
from tests.conftest import DEMO_NOW


def deps_for(store: EventStore, knowledge: Knowledge) -> AgentDeps:
    # the review reads the store and the knowledge only
    return AgentDeps(store, knowledge, index=None, classifier=None, clock=lambda: DEMO_NOW)  # type: ignore[arg-type]


def rows(store: EventStore) -> list[dict[str, Any]]:
    from domain.models import Scope

    return store.search(Scope(everything=True), limit=100_000)[0]


def test_a_returned_event_explains_the_return(demo_store: EventStore, knowledge: Knowledge) -> None:
    returned = next(r for r in rows(demo_store) if r["returns"] and r["resolved_at"])
    review = summarize_review(deps_for(demo_store, knowledge), returned["id"])
    assert review["returns"]["count"] == returned["returns"] >= 1
    assert review["returns"]["reasons"][0] in {r.name for r in knowledge.return_reasons.values()}
    assert any("退单" in x for x in review["improvements"])
    actions = [t["action"] for t in review["timeline"]]
    assert actions[0] == "受理" and "退单" in actions and "改派" in actions
    assert str(returned["id"]) in review["summary"] and "退单" in review["summary"]


def test_deadline_met_or_missed_is_computed_from_signing(
    demo_store: EventStore, knowledge: Knowledge
) -> None:
    late = next(
        r
        for r in rows(demo_store)
        if r["resolved_at"] and r["due_at"] and r["resolved_at"] > r["due_at"]
    )
    review = summarize_review(deps_for(demo_store, knowledge), late["id"])
    hours = round((late["resolved_at"] - late["due_at"]).total_seconds() / 3600, 1)
    assert review["deadline"]["on_time"] is False and review["deadline"]["hours_late"] == hours
    assert f"超时{hours}小时办结" in review["summary"]
    on_time = next(
        r
        for r in rows(demo_store)
        if r["resolved_at"] and r["due_at"] and r["resolved_at"] <= r["due_at"] and not r["returns"]
    )
    assert (
        summarize_review(deps_for(demo_store, knowledge), on_time["id"])["deadline"]["on_time"]
        is True
    )


def test_review_graph_and_audit(demo_store: EventStore, knowledge: Knowledge) -> None:
    closed = next(r for r in rows(demo_store) if r["status"] == "closed" and r["satisfaction"])
    out = build_review_graph(deps_for(demo_store, knowledge)).invoke({"event_id": closed["id"]})
    assert out["review"]["satisfaction"] == closed["satisfaction"]
    assert any(d["agent"] == "review" for d in demo_store.decisions(closed["id"]))


def test_the_llm_writes_the_review_from_facts_only(
    demo_store: EventStore, knowledge: Knowledge
) -> None:
    import openai

    from agents.llm import LLM
    from tests.fakes.openai_server import ScriptedServer

    closed = next(r for r in rows(demo_store) if r["status"] == "closed" and r["lead_department"])
    lead = knowledge.departments[closed["lead_department"]].name
    good = {"summary": f"该事件由{lead}办结，流程完整。", "improvements": ["保持签收后当日响应"]}
    invented = {
        "summary": "该事件由重庆市应急管理局牵头办结，流程完整。",
        "improvements": ["加强巡查"],
    }
    server = ScriptedServer([good, invented, invented])
    try:
        llm = LLM(
            openai.OpenAI(base_url=server.base_url, api_key="t", timeout=5, max_retries=0),
            "scripted",
        )
        deps = AgentDeps(
            demo_store,
            knowledge,
            index=None,
            classifier=None,
            clock=lambda: DEMO_NOW,  # type: ignore[arg-type]
            llm=llm,
        )
        ok = summarize_review(deps, closed["id"], engine="llm")
        assert ok["engine"] == "llm" and ok["summary"] == good["summary"]
        assert "timeline" in server.requests[0]["messages"][1]["content"]
        refused = summarize_review(deps, closed["id"], engine="llm")
        assert refused["engine"] == "offline" and "应急管理局" not in refused["summary"]
    finally:
        server.close()
