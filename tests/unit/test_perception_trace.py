"""A water station's alarm opens an event that carries its upstream trace and joint warning
(SQLite and PostgreSQL): the planted outfall of the episode is the top source, and the alarm
of the station in 江津区 warns both districts at the city level."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from agents.perception import Perception
from demo.episodes import PollutionEpisode
from domain.alarms import Reading
from knowledge import Knowledge
from store import EventStore
from tests.rivers import DAY, outfall_episode


class Clock:
    def __init__(self) -> None:
        self.now = DAY

    def __call__(self) -> datetime:
        return self.now


def _feed(p: Perception, clock: Clock, readings: list[Reading], size: int = 300) -> None:
    for i in range(0, len(readings), size):
        batch = readings[i : i + size]
        clock.now = batch[-1].observed_at
        p.ingest(batch)


@pytest.fixture(scope="module")
def episode(knowledge: Knowledge) -> PollutionEpisode:
    return outfall_episode(knowledge, span_hours=36)


def _event_of(store: EventStore, device: str) -> dict[str, object]:
    alarms = [a for a in store.alarms.list_alarms(device_id=device) if a["event_id"]]
    assert alarms, f"{device} raised an alarm with an event"
    return store.get_event(int(alarms[-1]["event_id"])).attributes


def test_water_alarm_event_carries_its_trace(
    store: EventStore, knowledge: Knowledge, episode: PollutionEpisode
) -> None:
    clock = Clock()
    p = Perception(store, knowledge, None, clock=clock)
    _feed(p, clock, episode.readings)

    sanjiang = _event_of(store, "QJ-WQ-05")  # 三江, 綦江区: the first station below the outfall
    trace, warning = sanjiang["trace"], sanjiang["joint_warning"]
    assert isinstance(trace, dict) and isinstance(warning, dict)
    assert trace["top"][0] == "qj-s09" and trace["candidates"][0]["rank"] == 1
    assert {s["device_id"]: s["status"] for s in trace["stations"]}["QJ-WQ-04"] == "clean"
    assert warning["level"] == "district" and warning["lead"]["code"] == "500110.eco_env"
    codes = {a["code"] for a in warning["assisting"]}
    assert {"500110002.street_office", "500110003.street_office"} <= codes  # 文龙, 三江

    zhiping = _event_of(store, "QJ-WQ-06")  # 支坪, 江津区: hours later, downstream
    trace, warning = zhiping["trace"], zhiping["joint_warning"]
    assert isinstance(trace, dict) and isinstance(warning, dict)
    assert trace["top"][0] == "qj-s09" and trace["first_seen"] == "QJ-WQ-05"
    assert [d["name"] for d in trace["districts"]] == ["綦江区", "江津区"]
    assert warning["level"] == "city" and warning["lead"]["code"] == "500000.eco_env"
    assert "ESC-R-04" in {r["id"] for r in warning["escalation"]}
    codes = {a["code"] for a in warning["assisting"]}
    assert {"500110.eco_env", "500116.eco_env", "500116124.street_office"} <= codes


def test_other_alarms_are_not_traced(store: EventStore, knowledge: Knowledge) -> None:
    clock = Clock()
    p = Perception(store, knowledge, None, clock=clock)
    device = next(d for d in knowledge.sensing.devices.values() if d.kind == "water_level")
    t0 = DAY + timedelta(hours=8)
    readings = [
        Reading(
            message_id=f"wl-{i}",
            device_id=device.id,
            observed_at=t0 + timedelta(minutes=5 * i),
            metrics={"level_m": v, "rain_mm_h": 60.0},
        )
        for i, v in enumerate([0.1, 0.3, 0.45, 0.6])
    ]
    _feed(p, clock, readings)
    events = [a["event_id"] for a in store.alarms.list_alarms() if a["event_id"]]
    assert events, "the water-level alarm opened an event"
    for event_id in events:
        attributes = store.get_event(int(event_id)).attributes
        assert "trace" not in attributes and "joint_warning" not in attributes
