"""``joint_warning``: from an upstream trace, who leads and who assists (联合预警).

The lead is the ecology and environment bureau of the alarm station's district, or the level
the escalation rules decide (a plume crossing districts goes to the city under ESC-R-04). Every
jurisdiction the water crosses between the top sources and the station assists: each street's
office (属地巡查和先期处置), each district's ecology and environment bureau and water bureau
(河长制), and the department that supervises each top source (the farm's agriculture bureau,
the site's housing commission…)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from domain.vocabulary import Level, Urgency
from knowledge import Knowledge
from tools.escalation import EscalationQuery, RuleHit, escalate
from tools.routing import AssignedDepartment, DepartmentsQuery, departments_for
from tools.tracing import Crossed, TraceAnswer

#: the subtype of a water-quality station's alarm (水质监测告警)
SUBTYPE = "EN06"
#: the duty a supervising department acts on for a source of its kind (else its first duty)
OWNER_DUTY = {
    "eco_env": "EE-01",
    "housing": "HC-02",
    "agriculture": "AG-01",
    "urban_mgmt": "UM-08",
    "water": "WA-01",
}
STREET_DUTY = "SO-01"
DISTRICT_DUTIES = {"eco_env": ["EE-04", "EE-05"], "water": ["WA-03"]}


class JointWarning(BaseModel):
    subtype: str
    level: Level
    urgency: Urgency
    lead: AssignedDepartment
    assisting: list[AssignedDepartment]
    escalation: list[RuleHit]
    streets: list[Crossed]
    districts: list[Crossed]
    explanation: str = Field(description="主办、协办和层级的理由")


def _assigned(k: Knowledge, code: str, duty_ids: list[str], role: str) -> AssignedDepartment:
    dept = k.departments[code]
    return AssignedDepartment(
        code=code,
        name=dept.name,
        role=role,
        level=dept.level,
        duty_ids=duty_ids,
        duties=[k.duties[d].text for d in duty_ids],
    )


def joint_warning(k: Knowledge, trace: TraceAnswer, urgency: Urgency | None = None) -> JointWarning:
    """按溯源结果起草联合预警：主办部门、途经每个街道和区县的协办部门、按升级规则确定的层级及理由。"""
    st = k.subtype(SUBTYPE)
    urgency = urgency or st.urgency
    station_street = k.rivers.node(trace.node).street
    top = [c for c in trace.candidates if c.node in trace.top]

    assisting: list[AssignedDepartment] = []

    def add(code: str, duty_ids: list[str]) -> None:
        if code not in {a.code for a in assisting}:
            assisting.append(_assigned(k, code, duty_ids, "assist"))

    for street in trace.streets:
        add(k.department("street_office", street.code, Level.STREET).code, [STREET_DUTY])
    for district in trace.districts:
        for dept_type, duty_ids in DISTRICT_DUTIES.items():
            add(k.department(dept_type, district.code, Level.DISTRICT).code, duty_ids)
    for c in top:
        spec = k.department_types[c.owner]
        duty = OWNER_DUTY.get(c.owner) or spec.duties[0].id
        level = Level.DISTRICT if Level.DISTRICT in spec.levels else spec.levels[0]
        add(k.department(c.owner, c.street, level).code, [duty])

    esc = escalate(
        k,
        EscalationQuery(
            subtype=SUBTYPE,
            text=trace.summary,
            urgency=urgency,
            lead_type=st.lead.type,
            departments=1 + len(assisting),
            streets=max(1, len(trace.streets)),
            districts=max(1, len(trace.districts)),
        ),
    )
    routed = departments_for(
        k, DepartmentsQuery(subtype=SUBTYPE, jurisdiction=station_street, level=esc.level)
    )
    lead = routed.lead
    assisting = [a for a in assisting if a.code != lead.code]
    for a in routed.assisting:
        if a.code not in {x.code for x in assisting}:
            assisting.append(a)

    where = "、".join(s.name for s in trace.streets) or k.jurisdiction(station_street).name
    parts = [f"{trace.station_name}{trace.metric_zh}告警，溯源涉及{where}"]
    if top:
        parts.append("疑似源头为" + "、".join(f"{c.name}（{c.street_name}）" for c in top))
    parts.append(f"由{lead.name}主办（{'、'.join(lead.duty_ids)}）")
    parts.append("途经街道（镇）和区县的" + "、".join(a.name for a in assisting) + "协办")
    if esc.rules:
        parts.append(
            f"按升级规则{'、'.join(f'{r.id}（{r.name}：{r.why}）' for r in esc.rules)}"
            f"由{esc.level.zh}承办"
        )
    return JointWarning(
        subtype=SUBTYPE,
        level=esc.level,
        urgency=urgency,
        lead=lead,
        assisting=assisting,
        escalation=esc.rules,
        streets=trace.streets,
        districts=trace.districts,
        explanation="；".join(parts) + "。",
    )
