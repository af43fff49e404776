"""Disposal planner: the dispatch order — departments, level, deadlines, steps, legal and duty
basis — and a plain explanation an officer can read in twenty seconds."""

from __future__ import annotations

import re
import time
from typing import Any

from pydantic import BaseModel, Field

from agents.deps import AgentDeps, audit
from agents.llm import Usage
from agents.state import TriageContext, TriageState
from domain.models import Citation, DispatchOrder
from domain.vocabulary import Level, Urgency
from prompts import Prompt, load
from tools.drafting import draft_order


def _routing_chose(routing: dict[str, Any]) -> bool:
    return bool(
        routing.get("engine") == "llm"
        or routing.get("reroute")
        or routing.get("unlocated")
        or routing.get("learned")
        or routing.get("precedent")
        or routing.get("owner_leads")
        or routing.get("joint_warning")
    )


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
        lead_override=routing["lead"]["code"] if _routing_chose(routing) else None,
        lead_duties=routing["lead"]["duty_ids"] if _routing_chose(routing) else None,
        street_unknown=bool(routing.get("unlocated")),
        text=state["text"],
    )
    if _routing_chose(routing):
        # the routing model chose the lead among the candidates, a return moved it, or the
        # street is unknown and the district's centre holds the event
        order.assisting_departments = [a["code"] for a in routing["assisting"]]
        duties = [
            *routing["lead"]["duty_ids"],
            *(d for a in routing["assisting"] for d in a["duty_ids"]),
        ]
        order.duty_basis = list(dict.fromkeys(duties))
    order.legal_basis = [citation(x) for x in state.get("citations", [])]
    order.engine = c["engine"]
    extra = []
    if routing["escalation"]:
        overruled = (
            Level(routing.get("rules_level") or routing["level"]).rank
            > Level(routing["level"]).rank
        )
        extra.append(
            (
                f"升级规则（未采纳，判例判断为{Level(routing['level']).zh}）："
                if overruled
                else "提级原因："
            )
            + "；".join(f"{r['id']} {r['name']}（{r['why']}）" for r in routing["escalation"])
        )
    if routing.get("precedent"):
        extra.append("判例：" + routing["precedent"]["reason"])
    if c.get("urgency_rules") and c["urgency_rules"] != c["urgency"]:
        extra.append(
            f"紧急程度：参照判例定为{Urgency(c['urgency']).zh}"
            f"（按小类、关键词和告警规则为{Urgency(c['urgency_rules']).zh}）"
        )
    if routing.get("learned"):
        extra.append("主办调整：" + routing["learned"]["reason"])
    if routing.get("reroute"):
        extra.append("退单后重新分拨：" + "；".join(routing["reroute"]))
    if c.get("alarm_rules"):
        extra.append(
            "感知告警规则："
            + "；".join(f"{r['id']} {r['name']}（{r['why']}）" for r in c["alarm_rules"])
        )
    if routing.get("owner_leads"):
        extra.append("设备离线或数据异常，由设备权属单位主办修复")
    if routing.get("joint_warning"):
        extra.append("上游溯源联合预警：" + routing["joint_warning"].rstrip("。"))
    if state.get("needs_human"):
        extra.append("需人工确认：" + "；".join(state["needs_human"]))
    proposed = list(state.get("proposed_citations", []))
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
        + _offered_note(proposed)
    )
    engine, prompt, usage = "offline", None, Usage()
    fallbacks: list[str] = []
    if ctx.engine == "llm" and deps.llm is not None:
        prompt = load("planner.explain")
        written = _ask_llm(deps, prompt, usage, state, order, fallbacks)
        if written is not None:
            order.steps = written.steps
            if written.keep:
                # the model reads the cited articles and the offered ones against the report:
                # what it keeps is cited, an offered article it keeps is cited too
                candidates = [*state.get("citations", []), *proposed]
                kept = {n - 1 for n in written.keep}
                order.legal_basis = [citation(candidates[i]) for i in sorted(kept)]
                n_cited = len(state.get("citations", []))
                proposed = [
                    x
                    if i >= n_cited
                    else {**x, "why": "该类事件的常用依据，大模型判断与本事件不符"}
                    for i, x in enumerate(candidates)
                    if i not in kept
                ]
            order.explanation = (
                written.explanation + "".join(f" {x}。" for x in extra) + _offered_note(proposed)
            )
            engine = "llm"
    draft = order.model_dump(mode="json")
    trace = audit(
        deps,
        event_id=state["event_id"],
        run_id=run_id,
        agent="planner",
        engine=engine,
        inputs={"subtype": c["subtype"], "level": routing["level"]},
        output=draft,
        started=started,
        confidence=c["confidence"],
        fallbacks=fallbacks,
        prompt=prompt,
        usage=usage,
    )
    return {"draft": draft, "proposed_citations": proposed, "trace": [trace]}


def citation(x: dict[str, Any]) -> Citation:
    """A citation of the state (``agents.policy.cite``) as the order carries it."""
    return Citation(
        title=x["title"], article=x["article"], article_no=x["article_no"], excerpt=x["excerpt"]
    )


def _offered_note(proposed: list[dict[str, Any]]) -> str:
    if not proposed:
        return ""
    listed = "、".join(f"《{x['title']}》{x['article']}（{x['why']}）" for x in proposed)
    return f" 候选依据（未列入依据，供人工选用）：{listed}。"


class Written(BaseModel):
    explanation: str = Field(min_length=10, max_length=300)
    steps: list[str] = Field(min_length=3, max_length=6)
    # numbers of the listed articles (cited, then offered) that apply: the order cites those
    keep: list[int] | None = None


#: names that look like a department: the model may only use the ones it was given
DEPT_NAME = re.compile(
    r"[\u4e00-\u9fff]{2,20}?(?:局|委员会|委|办事处|人民政府|大队|支队|总队|派出所|中心|公司|分局)"
)


def _ask_llm(
    deps: AgentDeps,
    prompt: Prompt,
    usage: Usage,
    state: TriageState,
    order: DispatchOrder,
    fallbacks: list[str],
) -> Written | None:
    k = deps.knowledge
    c, routing = state["classification"], state["routing"]
    allowed = {k.departments[d].name for d in [order.lead_department, *order.assisting_departments]}
    cited = state.get("citations", [])
    listed = [*cited, *state.get("proposed_citations", [])]
    citations = (
        "\n".join(
            f"{n}. 《{x['title']}》{x['article']}"
            f"（{'常用依据' if n <= len(cited) else '候选，' + x['why']}）：{x['excerpt'][:80]}"
            for n, x in enumerate(listed, start=1)
        )
        or "无"
    )

    def check(w: Written) -> list[str]:
        text = w.explanation + "".join(w.steps)
        unknown = unknown_units(text, allowed)
        problems = [f"出现了未给定的单位：{'、'.join(unknown)}"] if unknown else []
        if any(len(s) > 60 for s in w.steps):
            problems.append("有步骤超过60字")
        offered = len(listed)
        if w.keep is not None and (not w.keep or any(not 1 <= n <= offered for n in w.keep)):
            problems.append(f"keep 应为 1 到 {offered} 之间的条文序号，且至少保留一条")
        return problems

    assert deps.llm is not None
    return deps.llm.ask_or_fall_back(
        prompt,
        Written,
        usage,
        fallbacks,
        "大模型撰写说明失败，使用模板",
        check=check,
        subtype=f"{c['category_name']}·{c['subtype_name']}",
        urgency=Urgency(c["urgency"]).zh,
        level=routing["level_zh"],
        lead=k.departments[order.lead_department].name,
        assisting="、".join(k.departments[d].name for d in order.assisting_departments) or "无",
        duties="；".join(f"{d} {k.duties[d].text}" for d in order.duty_basis),
        citations=citations,
        response_hours=f"{order.response_hours:g}",
        disposal_hours=f"{order.disposal_hours:g}",
        text=state["text"][:1500],
    )


def unknown_units(text: str, allowed: set[str]) -> list[str]:
    """Department-like names in ``text`` that are none of the ``allowed`` units."""
    return sorted(
        {m for m in DEPT_NAME.findall(text) if not any(_same_unit(m, a) for a in allowed)}
    )


def _same_unit(mention: str, name: str) -> bool:
    """Whether a mention names the given unit: they share a tail of at least four characters
    (街道综合行政执法大队 for 观音桥街道综合行政执法大队; not 管理局 for 市场监督管理局)."""
    n = 0
    while n < min(len(mention), len(name)) and mention[-1 - n] == name[-1 - n]:
        n += 1
    return n >= 4 or mention in name
