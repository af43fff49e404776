"""Alarm-born events through the real Dispatcher (offline engine, regulation index and
classifier as shipped): the draft cites the alarm rules, a silent sensor goes to its owner,
and a citizen's later report finds the alarm's event as a duplicate."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from agents.dispatch import Dispatcher
from agents.perception import Perception
from domain.alarms import Detection, Reading
from domain.models import EventCreate, Source
from knowledge import Knowledge
from tests.conftest import offline_deps

T0 = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
NOW = T0 + timedelta(minutes=30)


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, prepared_data: Path, knowledge: Knowledge
) -> Iterator[tuple[Perception, Dispatcher]]:
    root = tmp_path_factory.mktemp("perception")
    with offline_deps(root, prepared_data, knowledge, lambda: NOW) as deps:
        dispatcher = Dispatcher(deps, InMemorySaver())
        yield Perception(deps.store, knowledge, dispatcher, clock=deps.clock), dispatcher


def draft_of(dispatcher: Dispatcher, event_id: int) -> dict[str, Any]:
    view = dispatcher.pending(event_id)
    assert view is not None, "an alarm's event waits for an officer with its draft"
    return view


def test_an_alarm_event_is_drafted_citing_its_rules(world: tuple[Perception, Dispatcher]) -> None:
    perception, dispatcher = world
    out = perception.ingest(
        [
            Reading(
                message_id="wl-1",
                device_id="NA-WL-01",
                observed_at=T0,
                metrics={"level_m": 0.38, "rain_mm_h": 52},
            )
        ]
    )
    draft = draft_of(dispatcher, out[0].event_ids[0])
    assert draft["category"]["code"] == "ES04" and draft["category"]["confidence"] == 1.0
    assert {r["id"] for r in draft["alarm_rules"]} == {"AR-WL-01", "AR-WL-03"}
    assert any("雨强52毫米/小时" in r["why"] for r in draft["alarm_rules"])
    assert draft["location"]["street"] == "500108003"  # 南坪街道, from the registry
    assert draft["lead_department"]["name"] == "南岸区城市管理局"
    assert draft["urgency"] == "critical"
    assert "AR-WL-03" in draft["explanation"]
    assert not draft["needs_human"]


def test_a_video_detection_is_drafted_from_its_label(world: tuple[Perception, Dispatcher]) -> None:
    perception, dispatcher = world
    out = perception.ingest(
        [
            Reading(
                message_id="av-1",
                device_id="SPB-AV-01",
                observed_at=T0 + timedelta(minutes=1),
                detection=Detection(
                    label="muck_truck", confidence=0.94, image_ref="oss://cam/1.jpg"
                ),
            )
        ]
    )
    event_id = out[0].event_ids[0]
    assert perception.store.get_event(event_id).source is Source.AI_VIDEO
    draft = draft_of(dispatcher, event_id)
    assert draft["category"]["code"] == "CA07"
    assert [r["id"] for r in draft["alarm_rules"]] == ["AR-AV-01"]
    assert draft["lead_department"]["name"] == "沙坪坝区城市管理局"


def test_a_silent_sensor_goes_to_its_owner(world: tuple[Perception, Dispatcher]) -> None:
    perception, dispatcher = world
    perception.ingest(
        [
            Reading(
                message_id="gas-1",
                device_id="NA-GS-01",
                observed_at=T0,
                metrics={"ch4_pct_lel": 0.4},
            )
        ]
    )
    opened = [r for r in perception.sweep(T0 + timedelta(minutes=15)) if r.key == "sweep:NA-GS-01"]
    assert [r.rule_ids for r in opened] == [["AR-GS-90"]]
    draft = draft_of(dispatcher, opened[0].event_ids[0])
    assert draft["category"]["code"] == "ES11"
    assert draft["lead_department"]["name"] == "重庆燃气集团股份有限公司"
    assert "南岸区大数据发展局" in [a["name"] for a in draft["assisting_departments"]]
    assert "权属单位" in draft["explanation"]


def test_a_citizens_later_report_finds_the_alarm_event(
    world: tuple[Perception, Dispatcher],
) -> None:
    perception, dispatcher = world
    out = perception.ingest(
        [
            Reading(
                message_id="wl-2",
                device_id="YB-WL-01",
                observed_at=T0,
                metrics={"level_m": 0.42, "rain_mm_h": 10},
            )
        ]
    )
    alarm_event = out[0].event_ids[0]
    report, _ = perception.store.add_event(
        EventCreate(
            source=Source.HOTLINE,
            text="龙溪红锦大道积水很深，车都熄火了，快来处理",
            reported_at=T0 + timedelta(minutes=20),
            address="渝北区龙溪街道红锦大道",
            lat=29.5953,
            lon=106.5380,
        ),
        now=NOW,
    )
    draft = dispatcher.triage(report.id, by="tester", engine="offline")
    assert alarm_event in [d["event_id"] for d in draft["duplicates"]]
