"""The chat's question about a water pollution's source: which phrasings ask it, which do not,
and the answer rendered from a trace (ranked sources with evidence, what was ruled out, who is
warned, and that it must be checked on site)."""

from datetime import UTC, datetime, timedelta

import pytest

from agents.chat.intents import parse
from agents.chat.trace_text import render
from demo.episodes import first_alarm, pollution_episode
from domain.clock import CHINA_TZ
from knowledge import Knowledge
from tools.jointwarning import joint_warning
from tools.tracing import TraceQuery, trace_upstream

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "question",
    [
        "綦江这次溶解氧异常可能的源头是哪里",
        "三江水质站氨氮超标，污染源是哪家",
        "河水发黑是谁在偷排",
        "帮我溯源一下綦江的水质告警",
        "蒲河的污水是从哪里来的",
    ],
)
def test_source_questions(knowledge: Knowledge, question: str) -> None:
    assert parse(question, knowledge, NOW).kind == "water_source"


@pytest.mark.parametrize(
    "question",
    [
        "这件投诉的来源是哪里",
        "江北区今天有哪些超时未办结的事件",
        "綦江区本周噪音投诉多少件",
        "现在有哪些设备离线",
        "河道堤防垮了归谁管",
    ],
)
def test_other_questions_are_not_source_questions(knowledge: Knowledge, question: str) -> None:
    assert parse(question, knowledge, NOW).kind != "water_source"


def test_answer_ranks_explains_and_warns(knowledge: Knowledge) -> None:
    day = datetime(2026, 6, 1, tzinfo=CHINA_TZ)
    ep = pollution_episode(
        knowledge, source="qj-s09", day=day, starts_at=day + timedelta(hours=6), seed=7
    )
    alarm = first_alarm(ep)
    assert alarm is not None
    trace = trace_upstream(
        knowledge, TraceQuery(station=alarm[0], metric="do_mg_l", onset=alarm[1]), ep.readings
    )
    text = render(trace, joint_warning(knowledge, trace), alarm_id=7)
    lines = text.split("\n")
    assert lines[0].startswith("（告警 A7）綦江三江水质自动监测站")
    assert lines[1].startswith("1. 文龙街道沱湾雨污混流排污口（排污口，綦江区文龙街道")
    assert any("排污口的排放特征相符" in ln for ln in lines)
    assert any(ln.startswith("已基本排除：") and "綦江工业园区桥河组团" in ln for ln in lines)
    assert any(ln.startswith("联合预警：区县级承办，綦江区生态环境局主办") for ln in lines)
    assert lines[-1] == "以上为按河网流经时间和监测数据推算的疑似源头，须现场核查确认。"
