"""「现在有哪些设备离线」: the chat's offline answer from the stored device status, in scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agents.chat.intents import parse
from agents.chat.replies import OfflineReplies
from agents.chat.state import ChatContext
from agents.deps import AgentDeps
from agents.perception import Perception
from domain.access import Principal, Role
from domain.alarms import Reading
from knowledge import Knowledge
from store import EventStore
from tools.scope import scope_for

NOW = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "question",
    [
        "现在有哪些设备离线",
        "哪些传感器掉线了",
        "渝中区有没有离线的摄像头",
        "感知设备在线率怎么样",
        "有哪些监测点没有数据",
        "哪些设备数据异常，读数不变",
    ],
)
def test_device_questions_are_understood(question: str, knowledge: Knowledge) -> None:
    assert parse(question, knowledge, NOW).kind == "devices"


@pytest.mark.parametrize(
    ("question", "kind"),
    [("渝中区今天有哪些超时未办结的事件", "overdue"), ("事件 E12 现在什么情况", "event")],
)
def test_other_questions_keep_their_kind(question: str, kind: str, knowledge: Knowledge) -> None:
    assert parse(question, knowledge, NOW).kind == kind


def officer(k: Knowledge, code: str, role: Role) -> Principal:
    return Principal(1, "t", "测试", role, code, scope_for(k, [code]))


def ask(store: EventStore, k: Knowledge, principal: Principal, question: str) -> str:
    deps: Any = AgentDeps(store, k, None, None, lambda: NOW)  # type: ignore[arg-type]
    intent = parse(question, k, NOW)
    reply = OfflineReplies(deps, None).answer(intent, {}, ChatContext(principal))
    assert reply.intent == "devices"
    return reply.text


def test_offline_devices_are_listed_with_how_long_and_whose(
    store: EventStore, knowledge: Knowledge
) -> None:
    p = Perception(store, knowledge, None, clock=lambda: NOW)
    p.ingest(
        [
            Reading(  # 解放碑 gas detector: last heard 45 minutes ago (every 60 s)
                message_id="a",
                device_id="YZ-GS-02",
                observed_at=NOW - timedelta(minutes=45),
                metrics={"ch4_pct_lel": 0.3},
            ),
            Reading(  # still reporting
                message_id="b",
                device_id="YZ-GS-01",
                observed_at=NOW - timedelta(seconds=30),
                metrics={"ch4_pct_lel": 0.2},
            ),
            Reading(  # 江北: silent, but outside 渝中's scope
                message_id="c",
                device_id="JB-GS-01",
                observed_at=NOW - timedelta(hours=5),
                metrics={"ch4_pct_lel": 0.1},
            ),
        ]
    )
    yuzhong = officer(knowledge, "500103", Role.DISTRICT)
    text = ask(store, knowledge, yuzhong, "现在有哪些设备离线")
    lines = text.splitlines()
    # the outage comes first, with how long and whose; devices that never reported follow
    assert "较场口燃气调压站监测仪（YZ-GS-02" in lines[1] and "已 45 分钟无数据" in lines[1]
    assert "权属 重庆燃气集团股份有限公司" in lines[1]
    assert "登记后从未上报" in lines[2]
    assert "YZ-GS-01" not in text  # it reported 30 seconds ago
    assert "JB-GS-01" not in text and "在线 1 台" in lines[0]
    jiangbei = officer(knowledge, "500105", Role.DISTRICT)
    assert "JB-GS-01" in ask(store, knowledge, jiangbei, "哪些传感器掉线了")
    # asking about a place outside the officer's scope is refused, not answered
    assert "无法查询" in ask(store, knowledge, jiangbei, "渝中区有没有离线的设备")
