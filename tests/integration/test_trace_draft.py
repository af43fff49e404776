"""The planted pollution episode through the real Dispatcher (offline engine): the draft of
the 江津区 station's alarm is led by the city's ecology and environment bureau, every crossed
street and district assists, ESC-R-04 is cited, and the explanation names the traced source."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from agents.dispatch import Dispatcher
from agents.perception import Perception
from knowledge import Knowledge
from tests.conftest import offline_deps
from tests.rivers import DAY, outfall_episode


class Clock:
    now = DAY

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, prepared_data: Path, knowledge: Knowledge
) -> Iterator[tuple[Perception, Dispatcher]]:
    root = tmp_path_factory.mktemp("trace")
    clock = Clock()
    with offline_deps(root, prepared_data, knowledge, clock) as deps:
        dispatcher = Dispatcher(deps, InMemorySaver())
        perception = Perception(deps.store, knowledge, dispatcher, clock=clock)
        ep = outfall_episode(knowledge, span_hours=36)
        for i in range(0, len(ep.readings), 300):
            batch = ep.readings[i : i + 300]
            clock.now = batch[-1].observed_at
            perception.ingest(batch)
        yield perception, dispatcher


def test_cross_district_plume_is_drafted_for_the_city(
    world: tuple[Perception, Dispatcher],
) -> None:
    perception, dispatcher = world
    store = perception.store
    alarm = next(a for a in store.alarms.list_alarms(device_id="QJ-WQ-06") if a["event_id"])
    draft = dispatcher.pending(int(alarm["event_id"]))
    assert draft is not None
    assert draft["category"]["code"] == "EN06"
    assert draft["level"] == "city"
    assert draft["lead_department"]["code"] == "500000.eco_env"
    assisting = {a["code"] for a in draft["assisting_departments"]}
    assert {
        "500110002.street_office",  # 文龙, where the outfall is
        "500110003.street_office",  # 三江
        "500110108.street_office",  # 石角
        "500116118.street_office",  # 贾嗣 (江津区)
        "500116124.street_office",  # 支坪
        "500110.eco_env",
        "500116.eco_env",
        "500110.water",
        "500116.water",
    } <= assisting
    assert "ESC-R-04" in {r["id"] for r in draft["escalation_rules"]}
    assert "上游溯源联合预警" in draft["explanation"]
    assert "文龙街道沱湾雨污混流排污口" in draft["explanation"]


def test_first_station_alarm_stays_in_the_district(
    world: tuple[Perception, Dispatcher],
) -> None:
    perception, dispatcher = world
    alarm = next(
        a for a in perception.store.alarms.list_alarms(device_id="QJ-WQ-05") if a["event_id"]
    )
    draft = dispatcher.pending(int(alarm["event_id"]))
    assert draft is not None
    assert draft["level"] == "district"
    assert draft["lead_department"]["code"] == "500110.eco_env"
    assisting = {a["code"] for a in draft["assisting_departments"]}
    assert {"500110002.street_office", "500110003.street_office"} <= assisting
    assert not any(c.startswith("500116") for c in assisting)  # 江津区 is downstream
