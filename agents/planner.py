"""Disposal planner: the dispatch order — departments, level, deadlines, steps, legal and duty
basis — and a plain explanation an officer can read in twenty seconds."""

from __future__ import annotations

import time
from typing import Any

from agents.deps import AgentDeps, audit
from agents.state import TriageContext, TriageState
from domain.models import Citation
from knowledge.models import Level, Urgency
from tools.drafting import draft_order


def plan_disposal(
    deps: AgentDeps, state: TriageState, ctx: TriageContext, run_id: str
) -> dict[str, Any]:
    started = time.perf_counter()
    k = deps.knowledge
    c, routing = state["classification"], state["routing"]
    order = draft_order(
        k,
        event_id=state["event_id"],
        subtype=c["subtype"],
        jurisdiction=routing["jurisdiction"],
        urgency=Urgency(c["urgency"]),
        level=Level(routing["level"]),
        confidence=c["confidence"],
        escalation_rules=[r["id"] for r in routing["escalation"]],
    )
    order.legal_basis = [
        Citation(
            title=x["title"], article=x["article"], article_no=x["article_no"], excerpt=x["excerpt"]
        )
        for x in state.get("citations", [])
    ]
    order.engine = c["engine"]
    extra = []
    if routing["escalation"]:
        extra.append(
            "提级原因："
            + "；".join(f"{r['id']} {r['name']}（{r['why']}）" for r in routing["escalation"])
        )
    if state.get("needs_human"):
        extra.append("需人工确认：" + "；".join(state["needs_human"]))
    basis = (
        "、".join(f"《{x['title']}》{x['article']}" for x in state.get("citations", []))
        or "相关部门权责清单"
    )
    order.explanation = (
        f"这是一件「{c['category_name']}·{c['subtype_name']}」（把握{c['confidence']:.0%}），{Urgency(c['urgency']).zh}件，"
        f"由{routing['level_zh']}承办，主办{routing['lead']['name']}（职责 {'、'.join(routing['lead']['duty_ids'])}）"
        + (
            f"，协办{'、'.join(a['name'] for a in routing['assisting'])}"
            if routing["assisting"]
            else ""
        )
        + f"。依据 {basis}。签收后{order.response_hours:g}小时内响应、{order.disposal_hours:g}小时内办结。"
        + ("".join(f" {x}。" for x in extra))
    )
    draft = order.model_dump(mode="json")
    trace = audit(
        deps,
        event_id=state["event_id"],
        run_id=run_id,
        agent="planner",
        engine="offline",
        inputs={"subtype": c["subtype"], "level": routing["level"]},
        output=draft,
        started=started,
        confidence=c["confidence"],
    )
    return {"draft": draft, "trace": [trace]}
