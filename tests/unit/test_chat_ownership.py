"""Ownership questions in the chat (归谁管, 哪个部门负责, 该派给谁, 要不要上报区里), offline
engine: the answer is the drafts' own decision. Expected departments, levels and rules are
computed here from the knowledge with ``departments_for`` and ``escalate``, so the tests hold
whatever the knowledge files say; a few literal facts are right by any rule."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from agents.chat import ChatAssistant
from agents.chat.intents import parse
from agents.chat.ownership_model import LOW_CONFIDENCE
from agents.classifier import SubtypeClassifier
from agents.deps import AgentDeps
from agents.dispatch import Dispatcher
from demo.load import load_demo
from domain.access import Principal, Role
from domain.models import EventCreate, Source
from domain.vocabulary import Level
from knowledge import Knowledge
from knowledge.retrieval import RegulationIndex
from tests.conftest import DEMO_NOW, offline_deps
from tools.escalation import EscalationAnswer, EscalationQuery, escalate, spans
from tools.routing import (
    DepartmentsAnswer,
    DepartmentsQuery,
    SlaQuery,
    departments_for,
    sla_for,
    urgency_for,
)
from tools.scope import scope_for


@pytest.fixture(scope="module")
def deps(
    tmp_path_factory: pytest.TempPathFactory, prepared_data: Path, knowledge: Knowledge
) -> Iterator[AgentDeps]:
    root = tmp_path_factory.mktemp("chat-owner")
    with offline_deps(root, prepared_data, knowledge, lambda: DEMO_NOW) as d:
        load_demo(d.store, knowledge, seed=11, now=DEMO_NOW, count=150)
        yield d


@pytest.fixture(scope="module")
def chat(deps: AgentDeps) -> ChatAssistant:
    saver = InMemorySaver()
    return ChatAssistant(deps, saver, Dispatcher(deps, saver))


def code_of(k: Knowledge, name: str) -> str:
    return next(j.code for j in k.jurisdictions.values() if j.name == name)


def officer(k: Knowledge, name: str, role: Role) -> Principal:
    code = code_of(k, name)
    return Principal(1, "duty", "值班员", role, code, scope_for(k, [code]))


def ask(chat: ChatAssistant, who: Principal, thread: str, message: str) -> dict[str, Any]:
    chunks = list(chat.stream(who, thread, message, engine="offline"))
    done: dict[str, Any] = next(c for c in chunks if c["type"] == "done")
    return done


def expected(
    k: Knowledge, classifier: SubtypeClassifier, subject: str, street: str
) -> tuple[str, EscalationAnswer, DepartmentsAnswer]:
    """The subtype, the escalation and the departments a draft of ``subject`` at ``street``
    gets, computed from the knowledge the way the routing agent computes them."""
    subtype = classifier.predict(subject).subtype
    st = k.subtype(subtype)
    urgency, _ = urgency_for(k, subtype, subject)
    first = departments_for(k, DepartmentsQuery(subtype=subtype, jurisdiction=street))
    streets, districts = spans(k, subject)
    esc = escalate(
        k,
        EscalationQuery(
            subtype=subtype,
            text=subject,
            urgency=urgency,
            lead_type=st.lead.type,
            departments=1 + len(first.assisting),
            streets=streets,
            districts=districts,
        ),
    )
    routed = first
    if esc.level.rank > first.level.rank:
        routed = departments_for(
            k, DepartmentsQuery(subtype=subtype, jurisdiction=street, level=esc.level)
        )
    return subtype, esc, routed


def assert_cites_real_articles(answer: dict[str, Any], index: RegulationIndex) -> None:
    cited = answer["sources"]["articles"]
    assert cited, answer["content"]
    for a in cited:
        assert a["citation"] in answer["content"]
        assert index.get_article(a["title"], a["article"]) is not None, a


# ----------------------------------------------------------------------------- parsing

PHRASINGS = [
    ("占道经营归谁管，依据哪条法规？", "占道经营", False, None),
    ("小区噪音扰民哪个部门负责", "小区噪音扰民", False, None),
    ("工地夜间施工噪音该派给哪个部门", "工地夜间施工噪音", False, None),
    ("井盖丢失由哪个部门负责处理", "井盖丢失", False, None),
    ("这个该派给谁", "", False, None),
    ("123号事件该派给谁", "", False, 123),
    ("要不要上报区里", "", True, None),
    ("这事要不要提级", "", True, None),
    ("E45 需不需要上报区里", "", True, 45),
    ("解放碑街道的燃气泄漏归谁管", "燃气泄漏", False, None),
    ("渝中区的燃气泄漏需要上报市里吗", "燃气泄漏", True, None),
]


@pytest.mark.parametrize(("text", "subject", "level", "event_id"), PHRASINGS)
def test_ownership_questions_are_parsed_with_their_subject(
    knowledge: Knowledge, text: str, subject: str, level: bool, event_id: int | None
) -> None:
    intent = parse(text, knowledge, DEMO_NOW)
    assert intent.kind == "ownership", intent.reason
    assert (intent.query, intent.asks_level, intent.event_id) == (subject, level, event_id)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("违规养犬归哪个法规管", "regulation"),
        ("占道经营依据什么规定处罚", "regulation"),
        ("江北区最近7天占道经营的事件", "list"),
        ("帮我给事件 E123 起草派单", "draft"),
        ("哪个部门的退单最多", "count"),
    ],
)
def test_other_questions_stay_what_they_were(knowledge: Knowledge, text: str, kind: str) -> None:
    assert parse(text, knowledge, DEMO_NOW).kind == kind


# ----------------------------------------------------------------------------- answers


@pytest.mark.parametrize(
    ("asker", "role", "question", "subject", "place"),
    [
        ("解放碑街道", Role.STREET, "占道经营归谁管，依据哪条法规？", "占道经营", "解放碑街道"),
        ("解放碑街道", Role.STREET, "小区噪音扰民哪个部门负责", "小区噪音扰民", "解放碑街道"),
        ("渝中区", Role.DISTRICT, "解放碑街道的燃气泄漏归谁管", "燃气泄漏", "解放碑街道"),
        ("江北区", Role.DISTRICT, "观音桥街道工地夜间施工噪音该派给谁", "工地夜间施工噪音", "观音桥街道"),
        ("重庆市", Role.CITY, "上清寺街道井盖丢失要不要上报区里", "井盖丢失", "上清寺街道"),
    ],
)  # fmt: skip
def test_the_answer_is_the_drafts_decision(
    chat: ChatAssistant,
    deps: AgentDeps,
    knowledge: Knowledge,
    asker: str,
    role: Role,
    question: str,
    subject: str,
    place: str,
) -> None:
    k = knowledge
    answer = ask(chat, officer(k, asker, role), f"own-{question[:6]}", question)
    text = answer["content"]
    assert answer["intent"] == "ownership"
    subtype, esc, routed = expected(k, deps.classifier, subject, code_of(k, place))
    assert f"「{k.subtype(subtype).name}」" in text
    assert f"主办：{routed.lead.name}" in text
    assert k.department_types[k.departments[routed.lead.code].type].code  # a known type
    for a in routed.assisting:
        assert a.name in text
    assert f"承办层级：{routed.level.zh}" in text
    for rule in esc.rules:
        assert rule.id in text
    if not esc.rules and routed.level is Level.STREET:
        assert "街道层级即可处置" in text
    for duty in routed.lead.duty_ids:
        assert duty in text and k.duties[duty].text in text
    urgency, _ = urgency_for(k, subtype, subject)
    sla = sla_for(k, SlaQuery(subtype=subtype, urgency=urgency))
    assert f"{sla.disposal_hours:g} 小时内办结" in text
    assert_cites_real_articles(answer, deps.index)
    usual = {f"《{r.title}》{r.article}" for r in k.subtype(subtype).regulations}
    assert not usual or usual & {a["citation"] for a in answer["sources"]["articles"]}
    assert "来源：" in text and "escalation.yaml" in text


def test_street_vending_on_a_demo_street_is_led_by_its_enforcement_team(
    chat: ChatAssistant, knowledge: Knowledge
) -> None:
    who = officer(knowledge, "解放碑街道", Role.STREET)
    text = ask(chat, who, "own-vending", "占道经营归谁管，依据哪条法规？")["content"]
    assert "主办：解放碑街道综合行政执法大队" in text
    assert "《" in text and "》第" in text  # and the articles, as before


def test_a_level_question_answers_yes_or_no_first(
    chat: ChatAssistant, deps: AgentDeps, knowledge: Knowledge
) -> None:
    who = officer(knowledge, "渝中区", Role.DISTRICT)
    for subject in ("燃气泄漏", "占道经营"):
        text = ask(chat, who, f"lv-{subject}", f"解放碑街道{subject}要不要上报区里")["content"]
        _, esc, routed = expected(
            knowledge, deps.classifier, subject, code_of(knowledge, "解放碑街道")
        )
        second = text.split("\n")[1]
        if routed.level is Level.STREET:
            assert second.startswith("不需要上报区里")
        else:
            assert second.startswith("需要上报") and all(r.id in second for r in esc.rules)


def test_without_a_street_a_district_officer_gets_a_named_example_street(
    chat: ChatAssistant, deps: AgentDeps, knowledge: Knowledge
) -> None:
    k = knowledge
    who = officer(k, "渝中区", Role.DISTRICT)
    text = ask(chat, who, "own-generic", "占道经营归谁管")["content"]
    assert "一般街道示例" in text
    named = [s for s in k.streets(who.jurisdiction) if f"渝中区{s.name}为一般街道示例" in text]
    assert len(named) == 1, text.split("\n")[0]
    _, _, routed = expected(k, deps.classifier, "占道经营", named[0].code)
    assert f"主办：{routed.lead.name}" in text


def test_a_street_outside_the_askers_scope_is_refused_politely(
    chat: ChatAssistant, knowledge: Knowledge
) -> None:
    who = officer(knowledge, "解放碑街道", Role.STREET)
    answer = ask(chat, who, "own-foreign", "观音桥街道的燃气泄漏归谁管")
    text = answer["content"]
    assert "抱歉" in text and "观音桥街道不在您的辖区" in text
    assert "主办" not in text and answer["sources"] == {"events": [], "articles": []}


def test_a_thin_subject_shows_alternatives_and_asks_to_confirm(
    chat: ChatAssistant, deps: AgentDeps, knowledge: Knowledge
) -> None:
    who = officer(knowledge, "解放碑街道", Role.STREET)
    owned = chat.offline.ownership(who, "那边", None, None)
    assert owned.confidence < LOW_CONFIDENCE, "the probe needs a subject the classifier doubts"
    assert owned.confirm
    text = ask(chat, who, "own-thin", "那边归谁管")["content"]
    others = [a["name"] for a in owned.alternatives if a["subtype"] != owned.subtype]
    assert "请确认事项类型" in text and others and all(n in text for n in others)
    # its type unsure, the usual articles its words do not match are offered, not cited
    usual = [f"《{r.title}》{r.article}" for r in knowledge.subtype(owned.subtype).regulations]
    assert [a.citation for a in owned.articles + owned.proposed] == usual
    if owned.proposed:
        assert "候选依据（未列入依据，供人工选用）" in text
        assert all(a.citation in text for a in owned.proposed)
    clear = chat.offline.ownership(who, "占道经营", None, None)
    assert clear.confidence >= LOW_CONFIDENCE and not clear.confirm


# ----------------------------------------------------------------------------- events


def test_an_event_is_answered_from_its_waiting_draft(
    chat: ChatAssistant, deps: AgentDeps, knowledge: Knowledge
) -> None:
    city = officer(knowledge, "重庆市", Role.CITY)
    rows, _ = deps.store.search(city.scope, statuses=["received"], limit=5, count=False)
    event_id = rows[0]["id"]
    draft = chat.dispatcher.triage(event_id, by="duty", engine="offline")
    answer = ask(chat, city, "own-pending", f"{event_id}号事件要不要上报区里")
    text = answer["content"]
    assert answer["sources"]["events"] == [event_id]
    assert f"草稿编号 {draft['approval']['id']}" in text
    assert f"主办：{draft['lead_department']['name']}" in text
    assert f"承办层级：{Level(draft['level']).zh}" in text
    for rule in draft["escalation_rules"]:
        assert rule["id"] in text
    first = text.split("\n")[1]
    assert first.startswith("不需要" if draft["level"] == "street" else "需要上报")


def test_a_dispatched_event_is_answered_from_its_order(
    chat: ChatAssistant, deps: AgentDeps, knowledge: Knowledge
) -> None:
    city = officer(knowledge, "重庆市", Role.CITY)
    rows, _ = deps.store.search(city.scope, statuses=["in_progress"], limit=5, count=False)
    event_id = rows[0]["id"]
    order = deps.store.orders(event_id)[-1]
    text = ask(chat, city, "own-order", f"E{event_id}该派给谁")["content"]
    assert "派单记录" in text
    assert f"主办：{knowledge.departments[order.lead_department].name}" in text
    assert f"承办层级：{Level(order.level).zh}" in text
    for rule in order.escalation_rules:
        assert rule in text


def test_an_event_without_a_draft_is_answered_as_triage_then_decides(
    chat: ChatAssistant, deps: AgentDeps, knowledge: Knowledge
) -> None:
    city = officer(knowledge, "重庆市", Role.CITY)
    filed = EventCreate(
        source=Source.HOTLINE,
        text="解放碑步行街八一路口有人摆摊卖烧烤，桌椅占了大半条人行道",
        address="渝中区解放碑八一路",
        reported_at=DEMO_NOW,
    )
    event_id = deps.store.add_event(filed, now=DEMO_NOW)[0].id  # no draft yet
    before = deps.store.get_event(event_id)
    owned = chat.offline.ownership(city, "", None, event_id)
    assert owned.decided_by.startswith("尚无派单草稿")
    assert deps.store.get_event(event_id) == before  # asking changes nothing
    draft = chat.dispatcher.triage(event_id, by="duty", engine="offline")
    assert owned.lead.code == draft["lead_department"]["code"]
    assert owned.level.value == draft["level"]
    assert [r.id for r in owned.escalation] == [r["id"] for r in draft["escalation_rules"]]


def test_this_event_means_the_one_in_focus_and_scope_still_applies(
    chat: ChatAssistant, deps: AgentDeps, knowledge: Knowledge
) -> None:
    street = officer(knowledge, "解放碑街道", Role.STREET)
    rows, _ = deps.store.search(street.scope, limit=5, count=False)
    event_id = rows[0]["id"]
    assert f"E{event_id}" in ask(chat, street, "own-focus", f"看看事件 E{event_id}")["content"]
    answer = ask(chat, street, "own-focus", "这事要不要提级")
    assert answer["intent"] == "ownership" and answer["sources"]["events"] == [event_id]
    city = officer(knowledge, "重庆市", Role.CITY)
    everything, _ = deps.store.search(city.scope, limit=200, count=False)
    foreign = next(r["id"] for r in everything if r["street"] not in (street.jurisdiction, None))
    refused = ask(chat, street, "own-focus-2", f"E{foreign}该派给谁")
    assert "不在您的辖区" in refused["content"] and refused["sources"]["events"] == []
    asked = ask(chat, street, "own-none", "要不要上报区里")
    assert "请告诉我是哪一件事件" in asked["content"]
