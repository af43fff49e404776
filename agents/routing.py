"""Routing agent: the jurisdiction, the lead and assisting departments and the level, each
choice citing the duty ids and escalation rule ids it rests on."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from agents.deps import AgentDeps, audit
from agents.llm import Usage
from agents.state import TriageContext, TriageState
from domain.vocabulary import Level, Urgency
from prompts import Prompt, load
from tools.escalation import EscalationAnswer, EscalationQuery, RuleHit, escalate, spans
from tools.pii import mask_text
from tools.routing import (
    AssignedDepartment,
    DepartmentsAnswer,
    DepartmentsQuery,
    departments_for,
    device_owner,
    led_by,
    placed_as,
    type_name,
    unlocated_owner,
)

if TYPE_CHECKING:  # the feedback model loads scikit-learn: named here for the annotations
    from agents.casebook import Verdict
    from agents.feedback import Suggestion


def route_event(
    deps: AgentDeps, state: TriageState, ctx: TriageContext, run_id: str
) -> dict[str, Any]:
    started = time.perf_counter()
    k = deps.knowledge
    c, loc = state["classification"], state["location"]
    jurisdiction = loc.get("street") or loc.get("district") or k.city.code
    first = departments_for(k, DepartmentsQuery(subtype=c["subtype"], jurisdiction=jurisdiction))
    # the places the event extends over, as its text says; an ambiguous place name is a
    # question for a person (intake says so), not a sign that the event spans several places
    streets, districts = spans(k, state["text"])
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
    if esc.level.rank > first.level.rank and esc.level is not Level.ENTERPRISE:
        answer = departments_for(
            k, DepartmentsQuery(subtype=c["subtype"], jurisdiction=jurisdiction, level=esc.level)
        )
    owner = c.get("device_owner")
    if owner in k.department_types:  # a data-quality event: the device's owner leads
        answer = device_owner(k, owner, jurisdiction, answer)
    warning = c.get("joint_warning")
    if warning:  # a water alarm traced upstream: every crossed jurisdiction assists
        answer, esc = _joint(answer, esc, warning)
    own_level = esc.level
    # precedents (labelled events) decide the level and the lead type the way people judged
    # like events; a sensor's outage and a traced warning keep their own owners
    returns = deps.store.returns_of(state["event_id"]) if state.get("event_id") else []
    # a returned event is routed again by the rules, the returns being the evidence
    verdict = None if owner in k.department_types or warning or returns else _precedent(deps, state)
    precedent: dict[str, Any] | None = None
    if verdict is not None:
        rules_said = (own_level, k.departments[answer.lead.code].type)
        # the verdict's level stands even below an escalation rule's: keeping the raised level
        # cost 2.4 points of level on the development set (the rules raise too readily, see
        # knowledge/LEVELS.md); the draft then lists those rules as not followed
        answer = placed_as(
            k, answer, verdict.lead_type, jurisdiction, Level(verdict.level), state["text"]
        )
        own_level = Level(verdict.level)  # the event's own level, wherever its place is known
        precedent = verdict.as_note(k)
        if rules_said != (own_level, verdict.lead_type):  # officers see both readings
            precedent["reason"] += (
                f"（按小类规则应为{rules_said[0].zh}、"
                f"{type_name(k, rules_said[1], rules_said[0].value)}主办）"
            )
    learned_note: dict[str, Any] | None = None
    # what officers taught applies to the events they corrected, not to a sensor's outage or
    # a traced warning
    learned = None if owner in k.department_types or warning else _learned(deps, state, answer)
    if learned is not None:
        # officers corrected this kind of event often enough that a model learned where it
        # goes: that type leads, at its lowest level unless an escalation rule raised the
        # event above its subtype's default level
        raised = esc.level.rank > esc.default_level.rank or verdict is not None
        answer = led_by(k, answer, learned.type, jurisdiction, lowest=not raised)
        own_level = answer.level
        learned_note = {
            "type": learned.type,
            "probability": learned.probability,
            "corrections": learned.corrections,
            "version": learned.version,
            "reason": learned.reason(answer.lead.name),
        }
    needs_human = list(state.get("needs_human", []))
    if verdict is not None:
        # a verdict less sure than the targets allow is confirmed by an officer (what officers
        # taught the feedback model decides the lead instead, when it does)
        unsure = [u for u in verdict.unsure if not (u == "lead" and learned is not None)]
        if unsure:
            parts = "和".join(_PARTS[u] for u in unsure)
            needs_human.append(
                f"判例对{parts}把握不足（层级{verdict.level_confidence:.2f}、主办类型"
                f"{verdict.lead_confidence:.2f}；自动采纳线{verdict.thresholds[0]:.2f}、"
                f"{verdict.thresholds[1]:.2f}），请人工确认{parts}"
            )
    district = loc.get("district")
    # the place is known less precisely than the event's level needs: a street matter (its own
    # level and the escalation rules say street) in a district whose street is unknown, or a
    # street or district matter with no place at all. The centre of what is known holds it
    # until a person names the place; the event's level stays what its nature says.
    unlocated = not loc.get("street") and (
        own_level is Level.STREET if district else own_level is not Level.CITY
    )
    # who disposes once the place is known: the type the centre hands the event on to
    # (the type itself: where the place is known only to its district, the answer may have
    # put the type's district counterpart in its place)
    pending_lead = None
    if unlocated:
        st = k.subtype(c["subtype"])
        ruled = st.lead_above if st.lead_above and own_level is not Level.STREET else st.lead
        pending_lead = (
            learned.type
            if learned is not None
            else owner
            if owner in k.department_types
            else verdict.lead_type
            if verdict is not None
            else ruled.type
        )
    if unlocated:
        then = type_name(k, str(pending_lead), own_level.value)
        answer = unlocated_owner(k, district or k.city.code, answer)
        needs_human.append(
            f"事发地只确定到{k.jurisdiction(district).name}，未能确定街道（镇），"
            f"暂由{answer.lead.name}主办，请人工指定街道（镇）后改派辖区{then}"
            if district
            else f"未能确定事发地（区县和街道），暂由{answer.lead.name}受理，"
            f"请人工确认事发地后改派{own_level.zh}的{then}处置"
        )
    lead = answer.lead.model_dump(mode="json")
    assisting = [a.model_dump(mode="json") for a in answer.assisting]
    engine, prompt, usage = "offline", None, Usage()
    fallbacks: list[str] = []
    reroute: list[str] = []
    if returns:
        answer, lead, assisting, notes = _after_returns(
            deps, state, jurisdiction, answer, lead, assisting, returns
        )
        reroute = notes
        if lead["code"] in {r["department"] for r in returns}:
            needs_human.append("退单单位之外找不到合适的主办单位，请人工指定")
    if ctx.engine == "llm" and deps.llm is not None and not returns:
        if state.get("injection"):
            fallbacks.append("文本含疑似注入指令，派单对象按规则确定，不交给大模型")
        elif warning:
            fallbacks.append("上游溯源联合预警的主办和协办由溯源和升级规则确定，不交给大模型")
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
    # an event held above its place keeps its own level; otherwise the (re-routed) answer's
    level = own_level if unlocated else answer.level
    routing = {
        "jurisdiction": jurisdiction,
        "level": level.value,
        "level_zh": level.zh,
        "default_level": esc.default_level.value,
        "rules_level": esc.level.value,  # what the subtype and escalation rules alone said
        "lead": lead,
        "assisting": assisting,
        "escalation": [r.model_dump(mode="json") for r in esc.rules],
        "engine": engine,
        "returns": returns,
        "reroute": reroute,
        "unlocated": unlocated,  # a centre above holds it until a person names the place
        "pending_lead_type": pending_lead,  # …and hands it on to this type then
        "learned": learned_note,  # the feedback model moved the lead (why, how sure)
        "precedent": precedent,  # the casebook's level and lead type, and the cases it rests on
        "owner_leads": owner in k.department_types,  # a sensor's data quality: its owner
        "joint_warning": warning["explanation"] if warning else None,
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
    return {"routing": routing, "needs_human": needs_human, "trace": [trace]}


_PARTS = {"level": "层级", "lead": "主办类型"}


def _precedent(deps: AgentDeps, state: TriageState) -> Verdict | None:
    """The casebook's verdict on the report and its address, when the casebook is on."""
    if deps.casebook is None:
        return None
    return deps.casebook.verdict(state["text"], state.get("address"))


def _learned(deps: AgentDeps, state: TriageState, answer: DepartmentsAnswer) -> Suggestion | None:
    """The feedback model's lead type for this event, when it is sure and differs from the
    rules' lead type (and the type can lead here)."""
    if deps.feedback is None:
        return None
    c, loc = state["classification"], state["location"]
    s = deps.feedback.suggest(state["text"], c["subtype"], loc.get("district"))
    k = deps.knowledge
    if s is None or s.type not in k.department_types:
        return None
    if s.type == k.departments[answer.lead.code].type:
        return None
    return s


LEVELS_UP = {Level.STREET: Level.DISTRICT, Level.DISTRICT: Level.CITY}


def _after_returns(
    deps: AgentDeps,
    state: TriageState,
    jurisdiction: str,
    answer: DepartmentsAnswer,
    lead: dict[str, Any],
    assisting: list[dict[str, Any]],
    returns: list[dict[str, Any]],
) -> tuple[DepartmentsAnswer, dict[str, Any], list[dict[str, Any]], list[str]]:
    """Route a returned event again: the returning departments are excluded, and the reasons
    are evidence. Overlapping duties or unclear ownership go one level up to be coordinated
    (统筹); otherwise the lead passes to an assisting department or to the lead of the
    classifier's next subtype, and only then up a level."""
    k = deps.knowledge
    excluded = {r["department"] for r in returns}
    codes = {r["reason_code"] for r in returns}
    names = "、".join(k.departments[d].name for d in excluded if d in k.departments)
    notes = [f"此前被{names}退单（{'；'.join(_reason(k, r) for r in returns)}），已排除"]
    if codes & {"overlapping_duties", "ownership_unclear"} and answer.level in LEVELS_UP:
        up = LEVELS_UP[answer.level]
        answer = departments_for(
            k, DepartmentsQuery(subtype=answer.subtype, jurisdiction=jurisdiction, level=up)
        )
        lead = answer.lead.model_dump(mode="json")
        assisting = [a.model_dump(mode="json") for a in answer.assisting]
        notes.append(f"职责交叉或权属不清，提级至{up.zh}统筹")
    if lead["code"] not in excluded:
        return answer, lead, [a for a in assisting if a["code"] not in excluded], notes
    options = [a for a in assisting if a["code"] not in excluded]
    options += [
        o
        for o in _options(deps, state, jurisdiction, answer.level, lead)
        if o["code"] not in excluded and o["code"] not in {a["code"] for a in options}
    ]
    if options:
        chosen = {**options[0], "role": "lead"}
        notes.append(f"改由{chosen['name']}主办")
        rest = [a for a in assisting if a["code"] not in excluded and a["code"] != chosen["code"]]
        return answer, chosen, rest, notes
    if answer.level in LEVELS_UP:
        up = LEVELS_UP[answer.level]
        answer = departments_for(
            k, DepartmentsQuery(subtype=answer.subtype, jurisdiction=jurisdiction, level=up)
        )
        notes.append(f"本级无其他承办单位，提级至{up.zh}")
        return (
            answer,
            answer.lead.model_dump(mode="json"),
            [a.model_dump(mode="json") for a in answer.assisting if a.code not in excluded],
            notes,
        )
    return answer, lead, assisting, notes


def _reason(k: Any, r: dict[str, Any]) -> str:
    code = r.get("reason_code") or ""
    name = k.return_reasons[code].name if code in k.return_reasons else code
    return f"{name}：{mask_text(r.get('reason') or '')}".rstrip("：")


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
    answer = deps.llm.ask_or_fall_back(
        prompt,
        LeadChoice,
        usage,
        fallbacks,
        "大模型选择主办单位失败，按规则确定",
        check=check,
        subtype=state["classification"]["subtype_name"],
        options=listing,
        text=state["text"][:1500],
    )
    return by_code[answer.lead] if answer is not None else None


def _joint(
    answer: DepartmentsAnswer, esc: EscalationAnswer, warning: dict[str, Any]
) -> tuple[DepartmentsAnswer, EscalationAnswer]:
    """The joint warning of an upstream trace (``tools.jointwarning``) as the routing answer:
    its lead, the departments of every jurisdiction crossed, and the level its escalation
    rules decided."""
    level = Level(warning["level"])
    joint = DepartmentsAnswer(
        subtype=answer.subtype,
        level=level,
        lead=AssignedDepartment.model_validate(warning["lead"]),
        assisting=[AssignedDepartment.model_validate(a) for a in warning["assisting"]],
    )
    rules = [RuleHit.model_validate(r) for r in warning["escalation"]]
    return joint, EscalationAnswer(level=level, default_level=esc.default_level, rules=rules)
