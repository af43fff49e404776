"""Upstream tracing over real HTTP (SQLite): ``GET /api/v1/alarms/{id}/trace`` as filed and
refreshed, under the caller's scope, and the chat's answer to 「綦江这次溶解氧异常可能的源头是哪里」
from the latest open water-quality alarm."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agents.chat.intents import parse
from knowledge import Knowledge
from store import EventStore
from tests.integration.test_chat import ask, done
from tests.live import Live, live_server
from tests.rivers import ingest_episode

QUESTION = "綦江这次溶解氧异常可能的源头是哪里"


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, prepared_data: Path, knowledge: Knowledge
) -> Iterator[tuple[Live, dict[str, int]]]:
    root = tmp_path_factory.mktemp("trace-api")
    url = f"sqlite:///{root / 'sanji.db'}"
    store = EventStore.open(url, knowledge.store_rules)
    ingest_episode(store, knowledge, batch=300)
    alarms = {
        a["device_id"]: int(a["id"])
        for a in reversed(store.alarms.list_alarms())
        if a["device_id"] in ("QJ-WQ-05", "QJ-WQ-06")
    }
    store.close()
    with live_server(url, root / "data", prepared_data, knowledge, now=datetime.now(UTC)) as s:
        yield s, alarms


def test_trace_of_an_alarm_as_filed_and_refreshed(live: tuple[Live, dict[str, int]]) -> None:
    server, alarms = live
    with server.client("city") as c:
        r = c.get(f"/api/v1/alarms/{alarms['QJ-WQ-06']}/trace")
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        assert body["computed"] == "filed" and body["device_id"] == "QJ-WQ-06"
        assert body["trace"]["top"][0] == "qj-s09"
        assert body["trace"]["candidates"][0]["evidence"]
        assert body["joint_warning"]["level"] == "city"
        assert [d["name"] for d in body["trace"]["districts"]] == ["綦江区", "江津区"]
        again = c.get(f"/api/v1/alarms/{alarms['QJ-WQ-06']}/trace", params={"refresh": True})
        assert again.status_code == 200
        assert again.json()["computed"] == "refreshed"
        assert again.json()["trace"]["top"][0] == "qj-s09"
        missing = c.get("/api/v1/alarms/999999/trace")
        assert missing.status_code == 404 and "不存在" in missing.json()["detail"]


def test_an_alarm_outside_the_scope_is_not_found(live: tuple[Live, dict[str, int]]) -> None:
    server, alarms = live
    with server.client("yuzhong") as c:
        r = c.get(f"/api/v1/alarms/{alarms['QJ-WQ-05']}/trace")
        assert r.status_code == 404 and "不存在" in r.json()["detail"]


def test_chat_names_the_likely_source(
    live: tuple[Live, dict[str, int]], knowledge: Knowledge
) -> None:
    assert parse(QUESTION, knowledge, datetime.now(UTC)).kind == "water_source"
    server, _ = live
    with server.client("city") as c:
        answer = done(ask(c, "trace-1", QUESTION))
    text = answer["content"]
    assert "文龙街道沱湾雨污混流排污口" in text.split("\n")[1]  # ranked first
    assert "綦江支坪水质自动监测站" in text  # the latest open alarm
    assert "联合预警" in text and "重庆市生态环境局主办" in text
    assert "须现场核查" in text
    assert answer["sources"]["events"]


def test_chat_outside_the_basin_has_no_water_alarm(live: tuple[Live, dict[str, int]]) -> None:
    server, _ = live
    with server.client("jiangbei") as c:
        refused = done(ask(c, "trace-2", QUESTION))
        answer = done(ask(c, "trace-3", "河里溶解氧异常，可能的源头是哪里"))
    assert "无权查看綦江区" in refused["content"]  # another district's river is not theirs
    assert "没有河流水质监测站的告警" in answer["content"]
