"""``escalate``: which escalation rules apply to an event, and the level that owns it."""

from __future__ import annotations

from pydantic import BaseModel, Field

from domain.vocabulary import Level, Urgency
from knowledge import Knowledge
from tools.locate import names_in


class EscalationQuery(BaseModel):
    subtype: str = Field(description="事件小类编码")
    text: str = Field(description="事件正文（已脱敏）")
    urgency: Urgency
    lead_type: str = Field(description="主办部门类型")
    departments: int = Field(ge=1, description="主办加协办部门数")
    streets: int = Field(default=1, ge=0, description="事件涉及的街道（镇）数")
    districts: int = Field(default=1, ge=0, description="事件涉及的区县数")
    reports: int = Field(default=1, ge=1, description="同一事项被反映的次数（含重复件）")


class RuleHit(BaseModel):
    id: str
    name: str
    kind: str
    target_level: Level
    why: str


class EscalationAnswer(BaseModel):
    level: Level
    default_level: Level
    rules: list[RuleHit]


#: words that say an event extends over the places it names (交界, 跨, 上下游, 两岸, 分属)
EXTENT = (
    "交界",
    "跨",
    "流经",
    "上游",
    "下游",
    "沿线",
    "两岸",
    "之间",
    "分属",
    "涉及",
    "延伸",
    "波及",
)
#: words that deny what follows them (无人员受伤, 没有人被困, 未造成伤亡)
NEGATIONS = ("无", "没有", "没", "未", "并非", "不是")
#: what gathers without being a crowd of people (聚集流浪犬, 蚊虫聚集)
NOT_PEOPLE = "犬狗猫鸟鸽鼠蚊虫蝇蜂车"


def mentions(text: str, keyword: str) -> bool:
    """Whether the text asserts the keyword: an occurrence right after a negation, or a
    gathering of animals or vehicles, does not count."""
    start = text.find(keyword)
    while start != -1:
        before = text[max(0, start - 4) : start]
        after = text[start + len(keyword) : start + len(keyword) + 3]
        negated = any(n in before for n in NEGATIONS)
        animals = keyword in ("聚集", "群体") and any(c in NOT_PEOPLE for c in after + before)
        if not (negated or animals):
            return True
        start = text.find(keyword, start + 1)
    return False


def spans(k: Knowledge, text: str) -> tuple[int, int]:
    """How many streets and districts the event extends over, read from its text: the places
    it names count only when a word of extent (交界, 跨, 上下游, 两岸…) says it covers them.
    A single place, or places named without such a word, count as one of each. Places are read
    as ``locate`` reads them (two-character stems only within a named district); a name that
    several streets share counts as one street and no district of its own."""
    if not any(w in text for w in EXTENT):
        return 1, 1
    hits, weak, districts = names_in(k, text)
    streets: set[str] = set()
    shared = 0
    for name, kinds in {**weak, **hits}.items():
        codes = {c for c in kinds if name in hits or k.jurisdiction(c).parent in districts}
        if districts and len(codes) > 1:
            codes = {c for c in codes if k.jurisdiction(c).parent in districts} or codes
        if len(codes) == 1:
            streets |= codes
        elif codes:
            shared += 1
    districts |= {k.jurisdiction(c).parent or "" for c in streets}
    return max(1, len(streets) + shared, len(districts)), max(1, len(districts))


def escalate(k: Knowledge, q: EscalationQuery) -> EscalationAnswer:
    """按升级规则判断事件应由哪一级承办，并列出命中的规则及理由。"""
    st = k.subtype(q.subtype)
    lead = k.department_types[q.lead_type]
    hits: list[RuleHit] = []
    for rule in k.escalation_rules:
        w = rule.when
        reasons: list[str] = []
        if w.any_keywords is not None:
            found = [kw for kw in w.any_keywords if mentions(q.text, kw)]
            if not found:
                continue
            reasons.append(f"文中出现「{'、'.join(found)}」")
        if w.urgency_at_least is not None:
            if q.urgency.rank < w.urgency_at_least.rank:
                continue
            reasons.append(f"紧急程度为{q.urgency.zh}")
        if w.needs_enforcement is not None:
            # a street-level lead (the enforcement team, the police station, a stationed unit)
            # holds its own enforcement duties, so the street keeps the event
            enforcement = [d for d in st.lead.duties if k.duties[d].enforcement]
            needs = bool(enforcement) and Level.STREET not in lead.levels
            if needs != w.needs_enforcement:
                continue
            reasons.append(
                f"处置需行使执法权（{'、'.join(enforcement)}），街道及派驻机构不具备"
                if needs
                else "处置所需执法权由街道或派驻机构行使"
            )
        if w.cross_jurisdiction is not None:
            crosses = q.districts > 1 if rule.target_level == "city" else q.streets > 1
            if crosses != w.cross_jurisdiction:
                continue
            reasons.append(
                f"涉及{q.districts}个区县"
                if rule.target_level == "city"
                else f"涉及{q.streets}个街道（镇）"
            )
        if w.min_departments is not None:
            if q.departments < w.min_departments:
                continue
            reasons.append(f"需{q.departments}个部门协同")
        if w.subtypes is not None:
            if q.subtype not in w.subtypes:
                continue
            reasons.append(f"事件类型为{st.name}")
        if w.except_subtypes is not None and q.subtype in w.except_subtypes:
            continue
        if w.min_reports is not None:
            if q.reports < w.min_reports:
                continue
            reasons.append(f"同一事项已被反映{q.reports}次")
        hits.append(
            RuleHit(
                id=rule.id,
                name=rule.name,
                kind=rule.kind,
                target_level=Level(rule.target_level),
                why="；".join(reasons),
            )
        )
    level = st.level
    for h in hits:
        if h.target_level.rank > level.rank:
            level = h.target_level
    return EscalationAnswer(level=level, default_level=st.level, rules=hits)
