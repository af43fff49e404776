"""A dispatch order drafted by rules over the knowledge: the offline template the disposal
planner starts from. Deterministic; every department, duty, article and deadline comes from
the knowledge files."""

from __future__ import annotations

from domain.models import Citation, DispatchOrder
from domain.vocabulary import Level, Urgency
from knowledge import Knowledge
from tools.routing import DepartmentsQuery, SlaQuery, departments_for, sla_for


def draft_order(
    k: Knowledge,
    *,
    event_id: int,
    subtype: str,
    jurisdiction: str,
    urgency: Urgency,
    level: Level | None = None,
    lead_override: str | None = None,
    lead_duties: list[str] | None = None,
    street_unknown: bool = False,
    confidence: float = 1.0,
    escalation_rules: list[str] | None = None,
    text: str = "",
) -> DispatchOrder:
    """起草派单：主办、协办、层级、时限、法律依据、职责依据、处置步骤和说明。

    ``lead_override`` with ``lead_duties``: a lead chosen elsewhere (the routing model, a
    return, the district centre for an event whose street is unknown) and the duties it acts
    on; ``street_unknown``: the lead (a governance centre holding the event) first finds the
    place and passes the event on; the order keeps the event's own ``level``. ``text``: the
    report, for the articles that govern only a sub-case it must name (``RegulationRef.when``)."""
    st = k.subtype(subtype)
    routing = departments_for(
        k, DepartmentsQuery(subtype=subtype, jurisdiction=jurisdiction, level=level)
    )
    sla = sla_for(k, SlaQuery(subtype=subtype, urgency=urgency))
    lead_code, lead_name = routing.lead.code, routing.lead.name
    if lead_override:
        lead_code, lead_name = lead_override, k.departments[lead_override].name
    assisting = [a for a in routing.assisting if a.code != lead_code]
    duty_basis = [*routing.lead.duty_ids, *(d for a in assisting for d in a.duty_ids)]
    citations = [
        Citation(title=r.title, article=r.article) for r in st.regulations if r.names_case(text)
    ]

    duty = k.duties[(lead_duties or routing.lead.duty_ids)[0]].text
    steps = [
        f"{lead_name}签收后{sla.response_hours:g}小时内响应，核实现场情况并联系诉求人",
        f"依据职责「{duty}」{_find_place((level or st.level) is Level.STREET)}"
        if street_unknown
        else f"依据职责「{duty}」开展处置",
    ]
    if assisting:
        steps.append(
            "协办单位配合："
            + "；".join(f"{a.name}（{k.duties[a.duty_ids[0]].text}）" for a in assisting)
        )
    steps.append(f"签收后{sla.disposal_hours:g}小时内办结，上传处置结果并回复诉求人")

    basis = "、".join(f"《{c.title}》{c.article}" for c in citations) or "相关部门权责清单"
    # an event whose place is not known yet keeps its own level; a centre above holds it
    order_level = level if street_unknown and level is not None else routing.level
    held = f"（事发地待核实，暂由{lead_name}受理）" if street_unknown else ""
    explanation = (
        f"该事件属于「{k.categories[st.category].name}·{st.name}」，{urgency.zh}件，由{order_level.zh}承办{held}。"
        f"主办{lead_name}，依据其权责清单{'、'.join(routing.lead.duty_ids)}；"
        f"{'协办' + '、'.join(a.name for a in assisting) + '；' if assisting else ''}"
        f"法律依据：{basis}。时限自签收起算：响应{sla.response_hours:g}小时，办结{sla.disposal_hours:g}小时。"
    )
    return DispatchOrder(
        event_id=event_id,
        lead_department=lead_code,
        assisting_departments=[a.code for a in assisting],
        level=order_level,
        urgency=urgency,
        response_hours=sla.response_hours,
        disposal_hours=sla.disposal_hours,
        legal_basis=citations,
        duty_basis=duty_basis,
        escalation_rules=escalation_rules or [],
        steps=steps,
        explanation=explanation,
        engine="offline",
        confidence=confidence,
    )


def _find_place(street_matter: bool) -> str:
    """The holding centre's step: find the street, or the place, and pass the event on."""
    if street_matter:
        return "核实事发街道（镇），改派该街道（镇）处置"
    return "核实事发区县，改派该区县有关部门处置"
