"""Routing agent: the jurisdiction, the lead and assisting departments and the level, each
choice citing the duty ids and escalation rule ids it rests on."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel

from agents.deps import AgentDeps, audit
from agents.llm import LLMFailed, Usage
from agents.state import TriageContext, TriageState
from knowledge.models import Level, Urgency
from prompts import Prompt, load
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
    lead = answer.lead.model_dump(mode="json")
    assisting = [a.model_dump(mode="json") for a in answer.assisting]
    engine, prompt, usage = "offline", None, Usage()
    fallbacks: list[str] = []
    if ctx.engine == "llm" and deps.llm is not None:
        if state.get("injection"):
            fallbacks.append("文本含疑似注入指令，派单对象按规则确定，不交给大模型")
        else:
            prompt = load("routing.choose")
            options = _options(deps, state, jurisdiction, answer.level, lead)
            chosen = _ask_llm(deps, prompt, usage, state, options, fallbacks)
            if chosen is not None and chosen["code"] != lead["code"]:
                assisting = [a for a in [lead, *assisting] if a["code"] != chosen["code"]]
                lead = {**chosen, "role": "lead"}
                engine = "llm"
            elif chosen is not None:
                engine = "llm"
    routing = {
        "jurisdiction": jurisdiction,
        "level": answer.level.value,
        "level_zh": answer.level.zh,
        "default_level": esc.default_level.value,
        "lead": lead,
        "assisting": assisting,
        "escalation": [r.model_dump(mode="json") for r in esc.rules],
        "engine": engine,
    }
    trace = audit(
        deps,
        event_id=state["event_id"],
        run_id=run_id,
        agent="routing",
        engine=engine,
        inputs={"subtype": c["subtype"], "jurisdiction": jurisdiction, "urgency": c["urgency"]},
        output=routing,
        started=started,
        fallbacks=fallbacks,
        prompt=prompt,
        usage=usage,
    )
    return {"routing": routing, "trace": [trace]}


class LeadChoice(BaseModel):
    lead: str
    reason: str = ""


def _options(
    deps: AgentDeps, state: TriageState, jurisdiction: str, level: Level, lead: dict[str, Any]
) -> list[dict[str, Any]]:
    """The departments the model may choose from: the lead for the chosen subtype and the
    leads for the classifier's alternative subtypes, at the same level, with their duties."""
    k = deps.knowledge
    options = [lead]
    for alt in state["classification"]["alternatives"][1:]:
        try:
            other = departments_for(
                k, DepartmentsQuery(subtype=alt["subtype"], jurisdiction=jurisdiction, level=level)
            ).lead.model_dump(mode="json")
        except (KeyError, ValueError):
            continue
        if other["code"] not in {o["code"] for o in options}:
            options.append(other)
    return options


def _ask_llm(
    deps: AgentDeps,
    prompt: Prompt,
    usage: Usage,
    state: TriageState,
    options: list[dict[str, Any]],
    fallbacks: list[str],
) -> dict[str, Any] | None:
    by_code = {o["code"]: o for o in options}
    listing = "\n".join(f"{o['code']}：{o['name']}——职责 {'；'.join(o['duties'])}" for o in options)

    def check(answer: LeadChoice) -> list[str]:
        return [] if answer.lead in by_code else [f"编码 {answer.lead} 不在候选单位中"]

    assert deps.llm is not None
    try:
        answer = deps.llm.ask(
            prompt,
            LeadChoice,
            usage,
            check=check,
            subtype=state["classification"]["subtype_name"],
            options=listing,
            text=state["text"][:1500],
        )
    except LLMFailed as exc:
        fallbacks.append(f"大模型选择主办单位失败，按规则确定：{exc}")
        return None
    return by_code[answer.lead]
