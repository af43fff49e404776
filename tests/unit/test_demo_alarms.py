"""The simulated day of readings: deterministic, valid, and the day's story is in it (a storm
in the afternoon, muck trucks at night, a sensor falling silent, a crowd at 解放碑)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from demo.alarms import EPISODES, Day, Scene, SimDevice, load_devices, simulate_day
from demo.episodes import PollutionEpisode, first_alarm
from domain.clock import CHINA_TZ
from knowledge import Knowledge
from tools.tracing import TraceQuery, trace_upstream

DAY = date(2026, 7, 15)
DAY_START = datetime(2026, 7, 15, 6, 0, tzinfo=CHINA_TZ)

REGISTRY = """\
devices:
  - {id: YZ-RG-01, kind: rain_gauge, name: 较场口雨量站, street: "500103003", lat: 29.553, lon: 106.575, owner: water, interval_s: 300}
  - {id: YZ-WL-01, kind: water_level, name: 临江路积水点水位计, street: "500103003", lat: 29.559, lon: 106.583, owner: urban_mgmt, interval_s: 120}
  - {id: YZ-MH-01, kind: manhole, name: 民权路井盖, street: "500103003", owner: urban_mgmt, interval_s: 600}
  - {id: YZ-CC-01, kind: crowd_counter, name: 解放碑步行街客流计数, street: "500103003", owner: public_security, interval_s: 60}
  - {id: YZ-CAM-01, kind: ai_video, name: 解放碑广场视频, street: "500103003", owner: urban_mgmt, interval_s: 300}
  - {id: JB-CAM-02, kind: ai_video, name: 江北某工地出口视频, district: "500105", owner: urban_mgmt, interval_s: 300}
  - {id: JB-WQ-01, kind: water_quality, name: 江北水质站, district: "500105", owner: eco_env, interval_s: 900}
"""


@pytest.fixture(scope="module")
def devices(tmp_path_factory: pytest.TempPathFactory) -> list[SimDevice]:
    folder = tmp_path_factory.mktemp("devices")
    (folder / "demo.yaml").write_text(REGISTRY, encoding="utf-8")
    return load_devices(folder)


def at(hour: float) -> datetime:
    return datetime.combine(DAY, datetime.min.time(), CHINA_TZ) + timedelta(hours=hour)


def test_same_seed_same_day_other_seed_other_values(devices: list[SimDevice]) -> None:
    one = simulate_day(devices, DAY, seed=7)
    assert simulate_day(devices, DAY, seed=7) == one
    other = simulate_day(devices, DAY, seed=8)
    assert [r.metrics for r in other] != [r.metrics for r in one]
    keys = [r.key for r in one]
    assert len(keys) == len(set(keys))  # every message has its own id
    assert [r.observed_at for r in one] == sorted(r.observed_at for r in one)
    assert all(r.observed_at.date() == DAY for r in one)


def test_every_device_reports_on_its_interval(devices: list[SimDevice]) -> None:
    readings = simulate_day(devices, DAY)
    water = [r for r in readings if r.device_id == "JB-WQ-01"]
    assert len(water) == 24 * 3600 // 900
    assert set(water[0].metrics) == {"do_mg_l", "nh3n_mg_l", "cod_mg_l", "ph", "turbidity_ntu"}
    assert all(6 < r.metrics["do_mg_l"] < 9 for r in water)  # a clean river all day


def test_an_afternoon_storm_raises_rain_then_water(devices: list[SimDevice]) -> None:
    readings = simulate_day(devices, DAY)

    def peak(device: str, metric: str, start: float, end: float) -> float:
        return max(
            r.metrics[metric]
            for r in readings
            if r.device_id == device and at(start) <= r.observed_at < at(end)
        )

    assert peak("YZ-RG-01", "rain_mm_h", 8, 12) == 0
    assert peak("YZ-RG-01", "rain_mm_h", 15, 16) > 40
    assert peak("YZ-WL-01", "level_m", 8, 12) < 0.05
    assert peak("YZ-WL-01", "level_m", 15.5, 16.5) > 0.25
    assert peak("YZ-WL-01", "level_m", 20, 24) < 0.05  # drained by the evening


def test_muck_trucks_at_the_site_exit_at_night(devices: list[SimDevice]) -> None:
    trucks = [
        r for r in simulate_day(devices, DAY) if r.detection and r.detection.label == "muck_truck"
    ]
    assert len(trucks) >= 6
    assert {r.device_id for r in trucks} == {"JB-CAM-02"}  # the camera at a 工地出口
    assert all(r.observed_at.hour < 5 or r.observed_at.hour >= 22 for r in trucks)
    assert all(0.7 < r.detection.confidence < 1 and r.detection.image_ref for r in trucks)


def test_one_sensor_falls_silent_at_twenty_past_ten(devices: list[SimDevice]) -> None:
    readings = simulate_day(devices, DAY)
    last = max(r.observed_at for r in readings if r.device_id == "YZ-MH-01")
    assert at(10) <= last < at(10 + 20 / 60)
    others = {r.device_id for r in readings if r.observed_at > at(12)}
    assert others == {d.id for d in devices} - {"YZ-MH-01"}


def test_a_crowd_builds_up_at_jiefangbei_in_the_evening(devices: list[SimDevice]) -> None:
    readings = simulate_day(devices, DAY)
    density = {
        r.observed_at: r.metrics["density_per_m2"] for r in readings if r.device_id == "YZ-CC-01"
    }
    evening = max(v for t, v in density.items() if at(20.5) <= t < at(21.5))
    morning = max(v for t, v in density.items() if at(8) <= t < at(9))
    assert evening > 4 > 1 > morning
    seen = [r for r in readings if r.detection and r.detection.label == "crowd"]
    assert seen and {r.device_id for r in seen} == {"YZ-CAM-01"}


def test_an_episode_plugs_in_and_replaces_regular_readings(devices: list[SimDevice]) -> None:
    """The hook the river pollution episode uses: readings on a device's own schedule replace
    its regular ones at the same time."""

    def dip(day: Day) -> Scene:
        station = next(d for d in day.devices if d.kind == "water_quality")
        times = [t for t in day.times(station) if at(9) <= t < at(12)]
        return Scene(readings=[day.reading(station, t, {"do_mg_l": 2.1}) for t in times])

    plain = simulate_day(devices, DAY)
    readings = simulate_day(devices, DAY, episodes=[*EPISODES, dip])
    assert len(readings) == len(plain)
    low = [r for r in readings if r.device_id == "JB-WQ-01" and r.metrics["do_mg_l"] < 3]
    assert len(low) == 12 and all(at(9) <= r.observed_at < at(12) for r in low)


def test_an_episode_with_its_own_model_takes_over_a_device(devices: list[SimDevice]) -> None:
    """How the river network's pollution episode plugs in: it writes the station's whole day
    on its own schedule, and the regular readings of that station are dropped."""

    def plume(day: Day) -> Scene:
        station = next(d for d in day.devices if d.kind == "water_quality")
        times = [day.at(h / 4) for h in range(96)]
        return Scene(
            readings=[day.reading(station, t, {"do_mg_l": 3.0}) for t in times],
            owns={station.id},
        )

    readings = simulate_day(devices, DAY, episodes=[*EPISODES, plume])
    water = [r for r in readings if r.device_id == "JB-WQ-01"]
    assert len(water) == 96 and {r.metrics["do_mg_l"] for r in water} == {3.0}
    assert len([r for r in readings if r.device_id == "YZ-RG-01"]) == 288  # others untouched


def test_the_shipped_registry_if_present_simulates(devices: list[SimDevice]) -> None:
    shipped = Path(__file__).resolve().parents[2] / "knowledge" / "data" / "devices"
    if not shipped.is_dir():
        pytest.skip("knowledge/data/devices/ is not on this branch yet")
    found = load_devices(shipped)
    readings = simulate_day(found, DAY)
    assert {r.device_id for r in readings} == {d.id for d in found}


def test_the_simulated_day_carries_the_river_plume_to_its_source(knowledge: Knowledge) -> None:
    """With the knowledge, ``sanji alarms simulate``'s day includes the 綦江 episode: the basin
    stations' readings are the plume model's, and a trace from the first alarm finds 沱湾."""
    shipped = Path(__file__).resolve().parents[2] / "knowledge" / "data" / "devices"
    found = load_devices(shipped)
    readings = simulate_day(found, DAY, knowledge=knowledge)
    stations = set(knowledge.rivers.stations)
    water = [r for r in readings if r.device_id in stations]
    assert {r.device_id for r in water} == stations
    lowest = min(r.metrics["do_mg_l"] for r in water if r.device_id == "QJ-WQ-05")
    assert lowest < 5.0  # oxygen falls below the class III limit below the outfall
    assert min(r.metrics["do_mg_l"] for r in water if r.device_id == "QJ-WQ-04") > 5.0  # above
    episode = PollutionEpisode(
        source="qj-s09", kind="outfall", starts_at=DAY_START, hours=6, readings=water, arrivals={}
    )
    alarm = first_alarm(episode)
    assert alarm is not None
    answer = trace_upstream(
        knowledge, TraceQuery(station=alarm[0], metric="do_mg_l", onset=alarm[1]), water
    )
    assert answer.candidates[0].node == "qj-s09"
    assert simulate_day(found, DAY) != readings  # without the knowledge: no river episode
