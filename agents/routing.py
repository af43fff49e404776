"""Routing agent: the jurisdiction, the lead and assisting departments and the level, each
choice citing the duty ids and escalation rule ids it rests on."""

from __future__ import annotations

import time
from typing import Any

from agents.deps import AgentDeps, audit
from agents.state import TriageContext, TriageState
from knowledge.models import Level, Urgency
from tools.escalation import EscalationQuery, escalate
from tools.routing import DepartmentsQuery, departments_for


def route_event(
    deps: AgentDeps, state: TriageState, ctx: TriageContext, run_id: str
) -> dict[str, Any]:
    started = time.perf_counter()
    k = deps.knowledge
    c, loc = state["classification"], state["location"]
    jurisdiction = loc.get("street") or loc.get("district") or k.city.code
    first = departments_for(k, DepartmentsQuery(subtype=c["subtype"], jurisdiction=jurisdiction))
    candidates = loc.get("candidates") or []
    streets = len(set(candidates)) if loc.get("ambiguous") else 1
    districts = (
        len({k.jurisdiction(s).parent for s in candidates})
        if loc.get("ambiguous") and candidates
        else 1
    )
    esc = escalate(
        k,
        EscalationQuery(
            subtype=c["subtype"],
            text=state["text"],
            urgency=Urgency(c["urgency"]),
            lead_type=k.subtype(c["subtype"]).lead.type,
            departments=1 + len(first.assisting),
            streets=streets,
            districts=districts,
            reports=1 + len(state.get("duplicates", [])),
        ),
    )
    answer = first
    if esc.level is not first.level and esc.level is not Level.ENTERPRISE:
        answer = departments_for(
            k, DepartmentsQuery(subtype=c["subtype"], jurisdiction=jurisdiction, level=esc.level)
        )
    routing = {
        "jurisdiction": jurisdiction,
        "level": answer.level.value,
        "level_zh": answer.level.zh,
        "default_level": esc.default_level.value,
        "lead": answer.lead.model_dump(mode="json"),
        "assisting": [a.model_dump(mode="json") for a in answer.assisting],
        "escalation": [r.model_dump(mode="json") for r in esc.rules],
    }
    trace = audit(
        deps,
        event_id=state["event_id"],
        run_id=run_id,
        agent="routing",
        engine="offline",
        inputs={"subtype": c["subtype"], "jurisdiction": jurisdiction, "urgency": c["urgency"]},
        output=routing,
        started=started,
    )
    return {"routing": routing, "trace": [trace]}
