"""The period review's LLM engine against the scripted OpenAI-compatible server over real
HTTP: a narrative whose numbers are all facts is used; garbage, or a narrative with a number
the facts do not hold, is asked again once and then falls back to the template, with the
reason recorded in the answer and in the audit record."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import openai
import pytest

from agents.deps import AgentDeps
from agents.llm import LLM
from agents.review_period import PeriodReport, review_period, template_narrative
from demo.load import load_demo
from domain.clock import CHINA_TZ
from domain.lifecycle import Action
from domain.models import EventCreate, Scope, Source
from domain.vocabulary import Urgency
from knowledge import Knowledge
from store import EventStore
from tests.fakes.openai_server import ScriptedServer, Status
from tests.unit.test_period import NOW, QIJIANG, WEEK
from tools.drafting import draft_order
from tools.period import PeriodReview, period_review
from tools.periods import PeriodQuery

QUERY = PeriodQuery(jurisdiction=QIJIANG, week=WEEK)


def bounced(store: EventStore, k: Knowledge) -> None:
    """A case the review must discuss (returned three times, late, satisfaction 1) whose text
    carries the caller's phone number."""
    street = k.sample_streets(QIJIANG)[0].code
    at = datetime(2026, 11, 10, 9, 0, tzinfo=CHINA_TZ)
    event, _ = store.add_event(
        EventCreate(
            source=Source.HOTLINE,
            external_id="phone",
            text="联系电话13800001234，小区门口垃圾三天没人清运",
            reported_at=at,
        ),
        now=at,
    )
    store.set_classification(
        event.id,
        street=street,
        district=QIJIANG,
        subtype="CA04",
        category="CA",
        urgency=Urgency.NORMAL,
        now=at,
    )
    order = draft_order(
        k, event_id=event.id, subtype="CA04", jurisdiction=street, urgency=Urgency.NORMAL
    )
    store.add_order(order, now=at)
    steps = [Action.TRIAGE, Action.DISPATCH] + [Action.RETURN, Action.REDISPATCH] * 3
    for action in [*steps, Action.ACCEPT]:
        at += timedelta(hours=1)
        code = "not_our_duty" if action is Action.RETURN else None
        store.transition(
            event.id, action, actor="测试", at=at, reason=code and "非本单位职责", reason_code=code
        )
    at += timedelta(hours=order.disposal_hours + 5)
    store.transition(event.id, Action.RESOLVE, actor="测试", at=at)
    store.transition(event.id, Action.VERIFY, actor="测试", at=at, payload={"satisfaction": 1})


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, knowledge: Knowledge) -> Iterator[EventStore]:
    path: Path = tmp_path_factory.mktemp("period-llm") / "s.db"
    s = EventStore.open(f"sqlite:///{path}", knowledge.store_rules)
    load_demo(s, knowledge, seed=11, now=NOW, count=60, period_week=QIJIANG)
    bounced(s, knowledge)
    yield s
    s.close()


@pytest.fixture(scope="module")
def facts(store: EventStore, knowledge: Knowledge) -> PeriodReview:
    return period_review(store, knowledge, Scope(everything=True), QUERY, now=NOW)


def run(
    store: EventStore, knowledge: Knowledge, script: list[Any]
) -> tuple[PeriodReport, ScriptedServer]:
    server = ScriptedServer(script)
    client = openai.OpenAI(base_url=server.base_url, api_key="test", timeout=10, max_retries=0)
    # the period review reads the store and the knowledge only: no index, no classifier
    deps = AgentDeps(store, knowledge, None, None, lambda: NOW, llm=LLM(client, "scripted"))  # type: ignore[arg-type]
    try:
        return review_period(deps, Scope(everything=True), QUERY, engine="llm"), server
    finally:
        server.close()


def good(f: PeriodReview) -> str:
    return (
        f"{f.jurisdiction_name}{f.period.label}共受理事件{f.count}件，上期{f.previous_count}件。"
        f"按时办结率{f.on_time_pct}%，办结用时中位数{f.median_hours_to_close}小时。"
        f"事件{f.cases[0].event_id}值得复盘。"
    )


def audited(store: EventStore) -> dict[str, Any]:
    (last,) = store.run_decisions(f"period-{QIJIANG}-{WEEK}")[-1:]
    return last


def test_a_narrative_of_the_facts_is_used(
    store: EventStore, knowledge: Knowledge, facts: PeriodReview
) -> None:
    report, server = run(store, knowledge, [{"narrative": good(facts)}])
    assert report.engine == "llm" and report.narrative == good(facts) and not report.fallbacks
    assert report.facts == facts
    (request,) = server.requests
    given = request["messages"][1]["content"]
    sent = json.loads(given[given.index("{") : given.rindex("}") + 1])
    assert sent["count"] == facts.count and sent["jurisdiction_name"] == "綦江区"
    assert [c["event_id"] for c in sent["cases"]] == [c.event_id for c in facts.cases]
    assert any("13800001234" in c.title for c in facts.cases)  # in the facts, for the officer
    assert "13800001234" not in given  # personal information stays out of the prompt
    record = audited(store)
    assert record["engine"] == "llm" and record["prompt_name"] == "review.period"
    assert record["llm_calls"] == 1 and record["output"]["narrative"] == good(facts)


def test_garbage_twice_falls_back_to_the_template(
    store: EventStore, knowledge: Knowledge, facts: PeriodReview
) -> None:
    report, server = run(store, knowledge, ["这不是 JSON", '{"narrative": 12'])
    assert len(server.requests) == 2
    assert report.engine == "offline" and report.narrative == template_narrative(facts)
    assert report.fallbacks and "大模型撰写时段复盘失败" in report.fallbacks[0]
    assert audited(store)["fallbacks"] == report.fallbacks


def test_a_hallucinated_number_is_refused_then_the_template_stands(
    store: EventStore, knowledge: Knowledge, facts: PeriodReview
) -> None:
    invented = good(facts) + "群众满意度提升了37.5个百分点。"
    report, server = run(store, knowledge, [{"narrative": invented}, {"narrative": invented}])
    assert report.engine == "offline" and report.narrative == template_narrative(facts)
    assert "事实中没有的数字：37.5" in report.fallbacks[0]
    repair = server.requests[1]["messages"][-1]["content"]
    assert "37.5" in repair  # the model was told which number it made up


def test_a_corrected_second_answer_is_used(
    store: EventStore, knowledge: Knowledge, facts: PeriodReview
) -> None:
    invented = good(facts) + "较去年同期下降12345件。"
    report, server = run(store, knowledge, [{"narrative": invented}, {"narrative": good(facts)}])
    assert report.engine == "llm" and report.narrative == good(facts)
    assert len(server.requests) == 2


def test_an_endpoint_that_fails_leaves_the_template(
    store: EventStore, knowledge: Knowledge, facts: PeriodReview
) -> None:
    report, _ = run(store, knowledge, [Status(500)])
    assert report.engine == "offline" and report.narrative == template_narrative(facts)
    assert "模型服务不可用" in report.fallbacks[0]
