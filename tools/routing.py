"""Who owns an event and by when: ``departments_for`` and ``sla_for``. Pure functions over the
knowledge; no store, no clock, no model."""

from __future__ import annotations

from pydantic import BaseModel, Field

from domain.vocabulary import Level, Urgency
from knowledge import Knowledge


class DepartmentsQuery(BaseModel):
    subtype: str = Field(description="事件小类编码，如 CA01")
    jurisdiction: str = Field(description="事发地街道（镇）或区县编码")
    level: Level | None = Field(default=None, description="承办层级；不填则用小类默认层级")


class AssignedDepartment(BaseModel):
    code: str
    name: str
    role: str = Field(description="lead 主办 / assist 协办")
    level: Level
    duty_ids: list[str]
    duties: list[str] = Field(description="所依据的权责清单条目原文")


class DepartmentsAnswer(BaseModel):
    subtype: str
    level: Level
    lead: AssignedDepartment
    assisting: list[AssignedDepartment]


def _place(k: Knowledge, type_code: str, jurisdiction: str, level: Level) -> tuple[Level, str]:
    """The level at which ``type_code`` can act for ``level``: itself, else the nearest above."""
    levels = k.department_types[type_code].levels
    if Level.ENTERPRISE in levels:
        return Level.ENTERPRISE, k.department(type_code, jurisdiction, Level.ENTERPRISE).code
    ladder = [Level.STREET, Level.DISTRICT, Level.CITY]
    for lv in ladder[ladder.index(level) :]:
        if lv in levels and (lv is Level.CITY or k.ancestor_at(jurisdiction, lv.value) is not None):
            return lv, k.department(type_code, jurisdiction, lv).code
    counterpart = k.department_types[type_code].escalates_to
    if counterpart:
        return _place(k, counterpart, jurisdiction, level)
    raise KeyError(f"no {type_code} department serves {jurisdiction} at {level.value} or above")


def type_name(k: Knowledge, type_code: str, level: Level | str | None = None) -> str:
    """A department type as officers name it, without a place (街道综合行政执法大队,
    区县生态环境局): its name at ``level`` when it has one there, else its first."""
    spec = k.department_types.get(type_code)
    if spec is None:
        return type_code
    at = level.value if isinstance(level, Level) else level
    name = next((v for lv, v in spec.name.items() if lv == at), next(iter(spec.name.values())))
    return (
        str(name).replace("{city}", "市").replace("{district}", "区县").replace("{street}", "街道")
    )


def department_of_type(
    k: Knowledge, type_code: str, jurisdiction: str, level: Level = Level.STREET
) -> str:
    """The department of ``type_code`` that acts for ``jurisdiction`` at ``level`` or the
    nearest level above where the type exists."""
    return _place(k, type_code, jurisdiction, level)[1]


def owning_level(k: Knowledge, jurisdiction: str, level: Level) -> Level:
    """The level that can own an event at ``jurisdiction``: ``level``, or higher when the place
    is known only above it (an event located only to its district is owned by the district)."""
    ladder = [Level.STREET, Level.DISTRICT, Level.CITY]
    for lv in ladder[ladder.index(level) :]:
        if lv is Level.CITY or k.ancestor_at(jurisdiction, lv.value) is not None:
            return lv
    return Level.CITY


def departments_for(k: Knowledge, q: DepartmentsQuery) -> DepartmentsAnswer:
    """按事件小类和事发地，给出主办和协办部门（含层级与所依据的权责清单条目）。"""
    st = k.subtype(q.subtype)
    k.jurisdiction(q.jurisdiction)  # unknown code -> KeyError with a clear message
    if q.level is Level.ENTERPRISE:
        raise ValueError("层级不能为企业 (level cannot be enterprise)")
    level = owning_level(k, q.jurisdiction, q.level or st.level)

    def assigned(type_code: str, duty_ids: list[str], role: str) -> AssignedDepartment:
        # the lead acts at the event's level; an assisting unit is the nearest one that holds
        # the duty (the street office and the police station assist a district bureau on site)
        lv, code = _place(k, type_code, q.jurisdiction, level if role == "lead" else Level.STREET)
        dept = k.departments[code]
        return AssignedDepartment(
            code=code,
            name=dept.name,
            role=role,
            level=lv,
            duty_ids=duty_ids,
            duties=[k.duties[d].text for d in duty_ids],
        )

    # above its default level the subtype may name another lead: the district bureau whose
    # street-stationed unit leads at the street (market for the market-supervision office)
    above = st.lead_above is not None and level.rank > st.level.rank
    lead_ref = st.lead_above if above and st.lead_above is not None else st.lead
    lead = assigned(lead_ref.type, lead_ref.duties, "lead")
    assisting = [assigned(a.type, a.duties, "assist") for a in st.assist]
    assisting = [a for a in assisting if a.code != lead.code]
    return DepartmentsAnswer(subtype=st.code, level=level, lead=lead, assisting=assisting)


def _lead_instead(
    k: Knowledge,
    answer: DepartmentsAnswer,
    code: str,
    lead_level: Level,
    duty_ids: list[str],
    level: Level,
) -> DepartmentsAnswer:
    """``answer`` owned at ``level`` with department ``code`` leading (at ``lead_level``,
    citing ``duty_ids``); the former lead and the assisting units assist, each once."""
    lead = AssignedDepartment(
        code=code,
        name=k.departments[code].name,
        role="lead",
        level=lead_level,
        duty_ids=duty_ids,
        duties=[k.duties[d].text for d in duty_ids],
    )
    assisting: list[AssignedDepartment] = []
    for a in [answer.lead, *answer.assisting]:
        if a.code != code and a.code not in {x.code for x in assisting}:
            assisting.append(a.model_copy(update={"role": "assist"}))
    return DepartmentsAnswer(subtype=answer.subtype, level=level, lead=lead, assisting=assisting)


def unlocated_owner(k: Knowledge, place: str, answer: DepartmentsAnswer) -> DepartmentsAnswer:
    """Who holds an event whose place is known less precisely than its level needs: a street
    matter whose district is known but whose street is not (``place`` the district), or a
    street or district matter with no place at all (``place`` the city). The governance centre
    of ``place``, which receives and dispatches events (GC-01), takes it and assigns the place;
    the departments of ``answer`` (found for ``place``) assist. The event's own level does not
    change: the caller keeps it."""
    level = Level.CITY if place == k.city.code else Level.DISTRICT
    centre = k.department("governance_center", place, level)
    return _lead_instead(k, answer, centre.code, level, ["GC-01"], level)


def led_by(
    k: Knowledge, answer: DepartmentsAnswer, type_code: str, jurisdiction: str, *, lowest: bool
) -> DepartmentsAnswer:
    """``answer`` with a department of ``type_code`` leading and the former lead assisting.
    ``lowest``: the type leads at the lowest level where it acts for this place (a correction
    to a street unit brings the event to the street), else at the answer's level or the nearest
    above it. The lead cites the duties the subtype gives that type, if any."""
    lv, code = _place(k, type_code, jurisdiction, Level.STREET if lowest else answer.level)
    duty_ids = [d for a in [answer.lead, *answer.assisting] if a.code == code for d in a.duty_ids]
    return _lead_instead(
        k, answer, code, lv, duty_ids, lv if lv is not Level.ENTERPRISE else answer.level
    )


def placed_as(
    k: Knowledge,
    answer: DepartmentsAnswer,
    type_code: str,
    jurisdiction: str,
    level: Level,
    text: str,
) -> DepartmentsAnswer:
    """``answer`` owned at ``level`` (or the nearest level the place allows) with a department
    of ``type_code`` leading: the type's department at that level, else at the nearest level
    below where it has one (a stationed unit doing the work of a district-owned event), else
    above. The lead cites the duties the answer gave that department, else the type's duty
    closest to ``text``."""
    owner = owning_level(k, jurisdiction, level)
    levels = k.department_types[type_code].levels
    ladder = [Level.STREET, Level.DISTRICT, Level.CITY]
    below = [lv for lv in reversed(ladder[: ladder.index(owner) + 1]) if lv in levels]
    lv, code = _place(k, type_code, jurisdiction, below[0] if below else owner)
    duty_ids = [d for a in [answer.lead, *answer.assisting] if a.code == code for d in a.duty_ids]
    if not duty_ids:
        duty_ids = _closest_duty(k, k.departments[code].type, text)
    return _lead_instead(k, answer, code, lv, duty_ids, owner)


def _closest_duty(k: Knowledge, type_code: str, text: str) -> list[str]:
    """The duty of ``type_code`` sharing the most character pairs with ``text`` (none if the
    type lists no duties)."""
    pairs = {text[n : n + 2] for n in range(len(text) - 1)}
    duties = [d for d in k.department_types[type_code].duties if d.id in k.duties]
    if not duties:
        return []
    best = max(
        duties, key=lambda d: sum(d.text[n : n + 2] in pairs for n in range(len(d.text) - 1))
    )
    return [best.id]


class SlaQuery(BaseModel):
    subtype: str = Field(description="事件小类编码")
    urgency: Urgency = Field(description="紧急程度 normal/urgent/critical")


class SlaAnswer(BaseModel):
    subtype: str
    urgency: Urgency
    response_hours: float = Field(description="签收后应响应的小时数")
    disposal_hours: float = Field(description="签收后应办结的小时数")
    basis: str = Field(description="时限依据说明")


def sla_for(k: Knowledge, q: SlaQuery) -> SlaAnswer:
    """按事件小类和紧急程度给出响应、办结时限（自签收起算）。"""
    st = k.subtype(q.subtype)
    cap = k.urgency_levels[q.urgency]
    response = min(st.sla_hours.response, cap.response_cap_hours)
    disposal = min(st.sla_hours.disposal, cap.disposal_cap_hours)
    basis = f"{st.name}一般时限 响应{st.sla_hours.response:g}小时/办结{st.sla_hours.disposal:g}小时"
    if q.urgency is not Urgency.NORMAL:
        basis += f"；{cap.name}件上限 响应{cap.response_cap_hours:g}小时/办结{cap.disposal_cap_hours:g}小时"
    return SlaAnswer(
        subtype=st.code,
        urgency=q.urgency,
        response_hours=response,
        disposal_hours=disposal,
        basis=basis,
    )


def urgency_for(k: Knowledge, subtype: str, text: str) -> tuple[Urgency, list[str]]:
    """小类默认紧急程度，文本出现升级关键词时提级；返回紧急程度和命中的关键词。"""
    st = k.subtype(subtype)
    critical = [w for w in st.critical_keywords if w in text]
    if critical:
        return Urgency.CRITICAL, critical
    urgent = [w for w in st.urgent_keywords if w in text]
    if urgent and st.urgency.rank < Urgency.URGENT.rank:
        return Urgency.URGENT, urgent
    return st.urgency, []


def device_owner(
    k: Knowledge, owner_type: str, place: str, answer: DepartmentsAnswer
) -> DepartmentsAnswer:
    """Who leads a data-quality event (a silent or stuck sensor): the department that owns
    the device (the registry's ``owner``), at the answer's level or the nearest it has; the
    departments of ``answer`` (the big-data bureau that keeps the sensing network) assist.
    The owner's duties on monitoring and facilities are cited, else its first duty."""
    lv, code = _place(k, owner_type, place, answer.level)
    spec = k.department_types[owner_type]
    duty_ids = [d.id for d in spec.duties if any(w in d.text for w in ("监测", "设施", "运行"))]
    duty_ids = duty_ids[:2] or [spec.duties[0].id]
    return _lead_instead(k, answer, code, lv, duty_ids, answer.level)
