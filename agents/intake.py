"""Intake classifier: clean and mask the text, detect injection attempts, classify the subtype
with calibrated confidence and alternatives, set urgency, locate the event, check duplicates."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from agents.deps import AgentDeps, audit
from agents.llm import Usage
from agents.state import TriageContext, TriageState
from agents.tracing import warning_of
from domain.models import Event, Scope, Source
from domain.text import without_invisible
from domain.vocabulary import Urgency
from prompts import Prompt, load
from tools.claims import find_claims
from tools.duplicates import DuplicateQuery, find_duplicates
from tools.escalation import mentions
from tools.locate import LocateQuery, locate
from tools.pii import mask_text
from tools.routing import urgency_for

if TYPE_CHECKING:
    from agents.classifier import Prediction

#: why a person checks a text that claims its own routing
CLAIM_REASON = "文本自称分类/主办/紧急程度，已按正文判断，请人工核对"

#: phrases that address the system rather than describe an incident
INJECTION = re.compile(
    r"(忽略|无视|忘记|不要理会)(以上|之前|前面|上述|所有|全部)[^。！]{0,8}(指令|提示|要求|规则|设定)"
    r"|ignore\s+(all\s+)?(previous|above|prior)\s+(instructions|prompts?)"
    r"|system\s*prompt|系统提示词|你现在(是|扮演)|以管理员(身份|权限)"
    r"|(直接|必须|务必)(派单|派给|转给|交给)[^。！，]{0,12}(局|委|办|中心|公司)"
    r"|(把|将)(这件事|本事件|此事件|这个事件)?(定为|设为|标记为|改为)[^。！，]{0,6}(特急|紧急|已办结)",
    re.IGNORECASE,
)


#: how many subtypes the classifier ranks for an event (the LLM engine chooses among them)
CANDIDATES = 5


def clean(text: str) -> str:
    return re.sub(r"\s+", " ", without_invisible(text)).strip()


def reported_text(title: str | None, text: str) -> str:
    """An event's title and text as one cleaned string (before masking)."""
    return clean(f"{title}。{text}" if title else text)


def masked_address(address: str | None) -> str | None:
    """The address as the later agents see it: personal information masked like the text
    (the casebook reads it; batch drafting primes the casebook with the same)."""
    return mask_text(address) if address else None


def judged_urgency(ruled: Urgency, learned: Urgency, floor: Urgency) -> Urgency:
    """The urgency people gave like events (the casebook's), except that what the rules call
    critical (a life-safety subtype or words) and what a device's alarm rules say (``floor``)
    is never lowered: a missed critical costs more than an officer's second look."""
    if ruled is Urgency.CRITICAL:
        return ruled
    return learned if learned.rank >= floor.rank else floor


def classified_text(title: str | None, text: str) -> str:
    """What the classifier reads first: the reported text with personal information masked
    (batch drafting classifies these ahead, as one batch)."""
    return mask_text(reported_text(title, text))


def classify_event(
    deps: AgentDeps, state: TriageState, ctx: TriageContext, run_id: str
) -> dict[str, Any]:
    started = time.perf_counter()
    k, store = deps.knowledge, deps.store
    stored = bool(state.get("event_id"))
    if stored:
        event = store.get_event(state["event_id"])
    else:
        now = deps.clock()
        event = Event.model_validate(
            {**state["event"], "id": 0, "created_at": now, "updated_at": now}
        )
    raw = reported_text(event.title, event.text)
    text = mask_text(raw)
    injection = [m.group(0) for m in INJECTION.finditer(raw)]
    fallbacks: list[str] = []

    text, pred, claims = _weigh_claims(deps, text)
    prompt, usage = None, Usage()
    alarm = alarm_of(deps, event)
    if alarm is not None:  # a sensor or video alarm: its rule names the subtype
        from agents.classifier import Prediction

        pred, claims = Prediction(alarm["subtype"], 1.0, [(alarm["subtype"], 1.0)], "rule"), []
    elif ctx.engine == "llm":
        if deps.llm is None:
            fallbacks.append("未配置大模型，使用离线引擎")
        else:
            prompt = load("intake.classify")
            choice = _ask_llm(deps, prompt, usage, text, pred, fallbacks)
            if choice is not None:
                pred = choice
    # the classifier module (scikit-learn) is imported at the first run, not with the graph
    from agents.classifier import Prediction, zero_shot

    pred = Prediction(pred.subtype, pred.confidence, pred.alternatives[:3], pred.engine)
    if pred.confidence < ctx.zero_shot_below and pred.engine != "llm":
        shot = zero_shot(k, text)
        fallbacks.append(f"分类置信度{pred.confidence:.2f}偏低，参考零样本结果 {shot.subtype}")
        if shot.subtype == pred.subtype or shot.confidence > pred.confidence:
            pred = shot
    st = k.subtype(pred.subtype)
    urgency, words = urgency_for(k, st.code, text)
    if alarm is not None and Urgency(alarm["urgency"]).rank > urgency.rank:
        urgency, words = Urgency(alarm["urgency"]), [r["id"] for r in alarm["rules"]]
    ruled = urgency
    if deps.casebook is not None and not (alarm is not None and alarm["data_quality"]):
        urgency = judged_urgency(
            ruled,
            Urgency(deps.casebook.verdict(text, masked_address(event.address)).urgency),
            floor=Urgency(alarm["urgency"]) if alarm is not None else Urgency.NORMAL,
        )
        if urgency is not ruled:  # the rules' words no longer explain it
            words = []

    loc: dict[str, Any]
    if event.street:
        street = k.jurisdiction(event.street)
        loc = {
            "street": street.code,
            "district": street.parent,
            "confidence": 1.0,
            "ambiguous": False,
            "explanation": f"上报时已标注在{street.name}",
            "candidates": [],
        }
    elif event.address or (event.lat is not None and event.lon is not None):
        found = locate(
            k,
            LocateQuery(
                address=event.address or raw[:300],
                lat=event.lat,
                lon=event.lon,
                district=event.district,
            ),
        )
        if event.address and found.street is None and not found.ambiguous:
            # the address names no street Sanji knows (a bridge, a rail section, a landmark
            # known to its district only): the text may name one (「转办件（回兴街道）」), read
            # with the same coordinates and the district found so far
            both = locate(
                k,
                LocateQuery(
                    address=f"{event.address}，{raw[:300]}",
                    lat=event.lat,
                    lon=event.lon,
                    district=event.district or found.district,
                ),
            )
            if found.district is None or both.district == found.district:
                found = both
        loc = found.model_dump(
            include={"street", "district", "confidence", "ambiguous", "explanation"}
        )
        loc["candidates"] = [c.street for c in found.candidates if c.street]
    else:
        found = locate(k, LocateQuery(address=raw[:300], district=event.district))
        loc = found.model_dump(
            include={"street", "district", "confidence", "ambiguous", "explanation"}
        )
        loc["candidates"] = [c.street for c in found.candidates if c.street]

    street_code: str | None = loc.get("street")
    district_code: str | None = loc.get("district")
    scope = Scope(districts=(district_code,)) if district_code else Scope(everything=True)
    dups = find_duplicates(
        store,
        k,
        scope,
        DuplicateQuery(
            text=text,
            reported_at=event.reported_at,
            lat=event.lat,
            lon=event.lon,
            street=street_code,
            subtype=st.code,
            exclude_id=event.id or None,
            min_score=ctx.duplicate_score,
            limit=3,
        ),
    )

    needs_human = []
    if injection:
        needs_human.append(
            "文本中含有疑似指挥系统的指令（提示词注入），已按普通诉求内容处理，请人工核对"
        )
    if claims:
        needs_human.append(f"{CLAIM_REASON}：{'；'.join(f'「{c}」' for c in claims)}")
    if pred.confidence < ctx.min_confidence and pred.engine != "llm":
        needs_human.append(f"分类置信度低（{pred.confidence:.0%}），请确认事件类型")
    if dups:
        needs_human.append(f"疑似重复：与事件 {dups[0].event.id} 相似（得分 {dups[0].score:.2f}）")
    if not loc.get("street"):
        needs_human.append("未能确定所属街道（镇）：" + str(loc.get("explanation", "")))

    classification = {
        "subtype": st.code,
        "subtype_name": st.name,
        "category": st.category,
        "category_name": k.categories[st.category].name,
        "confidence": pred.confidence,
        "alternatives": [
            {"subtype": c, "name": k.subtype(c).name, "probability": p}
            for c, p in pred.alternatives
        ],
        "urgency": urgency.value,
        "urgency_words": words,
        "urgency_rules": ruled.value,  # what the subtype, its keywords and alarm rules said
        "engine": pred.engine,
        "model_version": deps.classifier.version,
        "alarm_rules": alarm["rules"] if alarm is not None else [],
        # a silent or stuck sensor is its owner's to fix (routing makes the owner lead)
        "device_owner": alarm["owner"] if alarm is not None and alarm["data_quality"] else None,
        # a water station's alarm traced upstream: who leads and who assists (routing uses it)
        "joint_warning": _joint_warning(deps, event) if alarm is not None else None,
    }
    if stored:
        store.set_classification(
            event.id,
            street=street_code,
            district=loc.get("district"),
            subtype=st.code,
            category=st.category,
            urgency=urgency,
            now=deps.clock(),
        )
    duplicates = [{"event_id": d.event.id, "score": d.score, "reasons": d.reasons} for d in dups]
    trace = audit(
        deps,
        event_id=event.id,
        run_id=run_id,
        agent="intake",
        engine=pred.engine,
        inputs={"text": text[:500], "source": event.source.value},
        output={
            "classification": classification,
            "location": loc,
            "duplicates": duplicates,
            "injection": injection,
            "claims": claims,
        },
        started=started,
        confidence=pred.confidence,
        fallbacks=fallbacks,
        prompt=prompt,
        usage=usage,
    )
    return {
        "event_id": event.id,
        "text": text,
        "address": masked_address(event.address),
        "classification": classification,
        "location": loc,
        "duplicates": duplicates,
        "injection": injection,
        "needs_human": needs_human,
        "trace": [trace],
    }


def _weigh_claims(deps: AgentDeps, text: str) -> tuple[str, Prediction, list[str]]:
    """The text routing reads, the classifier's prediction on it, and the claims to show an
    officer. A span naming a routing field (分类：, 【主办：…】, 紧急程度：) is always taken
    out and shown; a bare keyword list only when it changes the subtype or urgency, since
    citizens list their troubles in earnest too."""
    k = deps.knowledge
    found = find_claims(k, text)
    pred = deps.classifier.predict(text, top=CANDIDATES)
    if not found.claims:
        return text, pred, []
    if not found.body:  # nothing but claims: weigh them, and let a person check
        return text, pred, found.claims
    body = deps.classifier.predict(found.body, top=CANDIDATES)
    same = (body.subtype, urgency_for(k, body.subtype, found.body)[0]) == (
        pred.subtype,
        urgency_for(k, pred.subtype, text)[0],
    )
    escalating = any(  # 爆炸 火灾 appended to a litter complaint would raise its level
        mentions(claim, w)
        for claim in found.claims
        for rule in k.escalation_rules
        for w in rule.when.any_keywords or ()
    )
    if not found.labelled and same and not escalating:
        return text, pred, []
    return found.body, body, found.claims


def alarm_of(deps: AgentDeps, event: Event) -> dict[str, Any] | None:
    """The alarm a sensor or AI-video event was filed for (``attributes.alarm``), when every
    rule it cites is a known alarm rule of the subtype it names; else None (a typed-in
    report claiming to be an alarm is classified by its text like any other)."""
    alarm = event.attributes.get("alarm")
    if event.source not in (Source.SENSOR, Source.AI_VIDEO) or not isinstance(alarm, dict):
        return None
    sensing = deps.knowledge.sensing
    cited = alarm.get("rules")
    if not isinstance(cited, list) or not cited:
        return None
    rules = [sensing.rule(str(r.get("id"))) if isinstance(r, dict) else None for r in cited]
    subtype = alarm.get("subtype")
    if any(r is None or r.subtype != subtype for r in rules):
        return None
    return {
        "subtype": subtype,
        "urgency": max((r.urgency for r in rules if r), key=lambda u: u.rank).value,
        "rules": [
            {"id": r.id, "name": r.name, "why": str(c.get("why", ""))[:300]}
            for r, c in zip(rules, cited, strict=True)
            if r is not None
        ],
        "owner": alarm.get("owner"),
        "data_quality": all(r.data_quality for r in rules if r),
    }


def _joint_warning(deps: AgentDeps, event: Event) -> dict[str, Any] | None:
    warning = warning_of(deps.knowledge, event.attributes)
    return warning.model_dump(mode="json") if warning is not None else None


class SubtypeChoice(BaseModel):
    subtype: str
    reason: str = ""


def _ask_llm(
    deps: AgentDeps,
    prompt: Prompt,
    usage: Usage,
    text: str,
    offline: Prediction,
    fallbacks: list[str],
) -> Prediction | None:
    """The model chooses among the offline candidates; it cannot invent a subtype."""
    k = deps.knowledge
    allowed = [code for code, _ in offline.alternatives]
    candidates = "\n".join(f"{c}：{k.subtype(c).name}——{k.subtype(c).description}" for c in allowed)

    def check(answer: SubtypeChoice) -> list[str]:
        return (
            []
            if answer.subtype in allowed
            else [f"编码 {answer.subtype} 不在候选 {', '.join(allowed)} 中"]
        )

    assert deps.llm is not None
    answer = deps.llm.ask_or_fall_back(
        prompt,
        SubtypeChoice,
        usage,
        fallbacks,
        "大模型分类失败，回退离线引擎",
        check=check,
        candidates=candidates,
        text=text[:1500],
    )
    if answer is None:
        return None
    probability = dict(offline.alternatives)[answer.subtype]
    others = [(c, p) for c, p in offline.alternatives if c != answer.subtype]
    confidence = max(probability, 0.6)  # the model's pick among calibrated candidates
    from agents.classifier import Prediction

    return Prediction(
        answer.subtype, round(confidence, 4), [(answer.subtype, probability), *others], "llm"
    )
