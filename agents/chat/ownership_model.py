"""An ownership answer (who leads, who assists, at which level and why, the duties, the
articles, the deadline, with sources) and how one is read from a dispatch draft view or a
dispatch order. Every name and level comes from the knowledge through the draft or the order."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from agents.state import TriageContext
from domain.models import Event as StoredEvent
from domain.vocabulary import Level, Urgency
from knowledge import Knowledge
from tools.routing import SlaQuery, sla_for, type_name

#: below this the subject is shown with its alternatives and the officer asked to confirm;
#: the drafts ask a person below the same confidence
LOW_CONFIDENCE = TriageContext().min_confidence


class DutyLine(BaseModel):
    id: str
    text: str


class OwnerUnit(BaseModel):
    code: str
    name: str
    type: str
    type_name: str
    level: Level
    level_zh: str
    duties: list[DutyLine]


class RuleLine(BaseModel):
    id: str
    name: str
    why: str


class ArticleLine(BaseModel):
    title: str
    article: str
    citation: str
    excerpt: str = ""
    why: str = ""


class Ownership(BaseModel):
    """One ownership answer, every part with where it came from (``sources``)."""

    subject: str
    subtype: str
    subtype_name: str
    category_name: str
    confidence: float
    alternatives: list[dict[str, Any]]
    confirm: bool  # the subject is uncertain: the officer should confirm it
    jurisdiction: str
    jurisdiction_name: str
    place_note: str
    event_id: int | None = None
    decided_by: str
    level: Level
    level_zh: str
    default_level: Level
    escalation: list[RuleLine]
    level_reason: str
    could_escalate: list[str]
    lead: OwnerUnit
    assisting: list[OwnerUnit]
    articles: list[ArticleLine]
    # offered beside the draft, not cited: a search hit, or an unsure type's usual articles
    proposed: list[ArticleLine] = []
    urgency: Urgency
    response_hours: float
    disposal_hours: float
    sla_basis: str
    needs_human: list[str]
    sources: dict[str, str]


# ----------------------------------------------------------------------------- conversion


def _unit(k: Knowledge, code: str, duty_ids: list[str]) -> OwnerUnit:
    dept = k.departments[code]
    return OwnerUnit(
        code=code,
        name=dept.name,
        type=dept.type,
        type_name=type_name(k, dept.type, dept.level),
        level=dept.level,
        level_zh=dept.level.zh,
        duties=[DutyLine(id=d, text=k.duties[d].text) for d in duty_ids if d in k.duties],
    )


def _article(a: dict[str, Any], why: str) -> ArticleLine:
    """A draft view's legal basis entry as a line of the answer."""
    return ArticleLine(
        title=a["title"],
        article=a["article"],
        citation=f"《{a['title']}》{a['article']}",
        excerpt=a.get("text") or "",
        why=why,
    )


def _duty_ids(k: Knowledge, code: str, basis: list[str]) -> list[str]:
    """The duty ids of ``basis`` that belong to the department's type."""
    kind = k.departments[code].type
    return [d for d in basis if d in k.duties and k.duties[d].department_type == kind]


def _level_reason(
    k: Knowledge, subtype: str, level: Level, default: Level, rules: list[RuleLine]
) -> str:
    st = k.subtype(subtype)
    if rules:
        return "命中升级规则：" + "；".join(f"{r.id} {r.name}（{r.why}）" for r in rules)
    lead = k.department_types[st.lead.type]
    here = "、".join(lv.zh for lv in lead.levels)
    if level is Level.STREET:
        return (
            f"街道层级即可处置：{st.name}默认由镇街承办（taxonomy.yaml {st.code}），"
            f"主办类型设在{here}，未命中任何升级规则"
        )
    return f"{st.name}默认由{default.zh}承办（taxonomy.yaml {st.code} 的默认层级；主办类型设在{here}），未命中升级规则"


def _could_escalate(k: Knowledge, subtype: str, level: Level, fired: set[str]) -> list[str]:
    """Rules that would raise this kind of matter above its level if an event met them."""
    out = []
    for rule in k.escalation_rules:
        w = rule.when
        if rule.id in fired or Level(rule.target_level).rank <= level.rank:
            continue
        if w.subtypes is not None and subtype not in w.subtypes:
            continue
        if w.except_subtypes is not None and subtype in w.except_subtypes:
            continue
        # what the kind of matter fixes (enforcement power, departments) has been decided
        # already; only what a single event brings can still raise it
        facts = (w.any_keywords, w.urgency_at_least, w.cross_jurisdiction, w.min_reports)
        if all(f is None for f in facts):
            continue
        out.append(f"{rule.id} {rule.name}（提至{Level(rule.target_level).zh}）")
    return out


def _common_sources(k: Knowledge, subtype: str, urgency: Urgency, place: str) -> dict[str, str]:
    sla = sla_for(k, SlaQuery(subtype=subtype, urgency=urgency))
    return {
        "主办与协办": f"taxonomy.yaml {subtype} 的主办、协办类型及权责清单（departments.yaml），由 departments_for 落到{place}的具体单位",
        "权责清单": "departments.yaml 各部门类型的权责清单条目",
        "时限": f"{sla.basis}（taxonomy.yaml 与 sla.yaml，自签收起算）",
    }


def from_view(
    k: Knowledge,
    view: dict[str, Any],
    *,
    subject: str,
    place_note: str,
    decided_by: str,
    event_id: int | None = None,
    default_level: Level | None = None,
    why: dict[tuple[str, str], str] | None = None,
    sources: dict[str, str] | None = None,
    generic: bool = False,
) -> Ownership:
    """An ownership answer from a dispatch draft view (``agents.dispatch.build_draft``)."""
    cat = view["category"]
    subtype, level = cat["code"], Level(view["level"])
    basis = [d["id"] for d in view["duty_basis"]]
    lead_code = view["lead_department"]["code"]
    lead = _unit(k, lead_code, _duty_ids(k, lead_code, basis))
    assisting = [
        _unit(k, a["code"], _duty_ids(k, a["code"], basis)) for a in view["assisting_departments"]
    ]
    rules = [RuleLine(id=r["id"], name=r["name"], why=r["why"]) for r in view["escalation_rules"]]
    default = default_level or k.subtype(subtype).level
    street = (view.get("location") or {}).get("street")
    place = k.jurisdiction(street).name if street in k.jurisdictions else "事发地"
    urgency = Urgency(view["urgency"])
    articles = [
        _article(a, (why or {}).get((a["title"], a["article"]), "")) for a in view["legal_basis"]
    ]
    proposed = [_article(a, a.get("why") or "") for a in view.get("proposed_basis") or []]
    confidence = float(cat["confidence"])
    return Ownership(
        subject=subject,
        subtype=subtype,
        subtype_name=cat["name"],
        category_name=cat["category"],
        confidence=confidence,
        alternatives=list(cat.get("alternatives") or []),
        confirm=confidence < LOW_CONFIDENCE,
        jurisdiction=street or "",
        jurisdiction_name=place,
        place_note=place_note,
        event_id=event_id,
        decided_by=decided_by,
        level=level,
        level_zh=level.zh,
        default_level=default,
        escalation=rules,
        level_reason=_level_reason(k, subtype, level, default, rules),
        could_escalate=_could_escalate(k, subtype, level, {r.id for r in rules}) if generic else [],
        lead=lead,
        assisting=assisting,
        articles=articles,
        proposed=proposed,
        urgency=urgency,
        response_hours=float(view["deadlines"]["response_hours"]),
        disposal_hours=float(view["deadlines"]["disposal_hours"]),
        sla_basis=sla_for(k, SlaQuery(subtype=subtype, urgency=urgency)).basis,
        needs_human=list(view.get("needs_human") or []),
        sources={
            "结论": decided_by,
            **(sources or {}),
            **_common_sources(k, subtype, urgency, place),
        },
    )


def from_order(k: Knowledge, event: StoredEvent, order: Any, where: str) -> Ownership:
    """An ownership answer from the event's last dispatch order (what was decided)."""
    subtype = str(event.subtype)
    st = k.subtype(subtype)
    rules_by_id = {r.id: r for r in k.escalation_rules}
    rules = [
        RuleLine(id=r, name=rules_by_id[r].name if r in rules_by_id else r, why="派单时命中")
        for r in order.escalation_rules
    ]
    level = Level(order.level)
    lead = _unit(k, order.lead_department, _duty_ids(k, order.lead_department, order.duty_basis))
    assisting = [
        _unit(k, a, _duty_ids(k, a, order.duty_basis)) for a in order.assisting_departments
    ]
    decided = "已派出的派单（派单记录）"
    return Ownership(
        subject=f"事件 E{event.id}",
        subtype=subtype,
        subtype_name=st.name,
        category_name=k.categories[st.category].name,
        confidence=float(order.confidence),
        alternatives=[],
        confirm=False,
        jurisdiction=event.street or "",
        jurisdiction_name=where,
        place_note=f"事发地：{where}",
        event_id=event.id,
        decided_by=decided,
        level=level,
        level_zh=level.zh,
        default_level=st.level,
        escalation=rules,
        level_reason=_level_reason(k, subtype, level, st.level, rules),
        could_escalate=[],
        lead=lead,
        assisting=assisting,
        articles=[
            ArticleLine(
                title=c.title,
                article=c.article,
                citation=f"《{c.title}》{c.article}",
                excerpt=c.excerpt or "",
            )
            for c in order.legal_basis
        ],
        urgency=order.urgency,
        response_hours=order.response_hours,
        disposal_hours=order.disposal_hours,
        sla_basis=sla_for(k, SlaQuery(subtype=subtype, urgency=order.urgency)).basis,
        needs_human=[],
        sources={"结论": decided, **_common_sources(k, subtype, order.urgency, where)},
    )
