"""Perception.ingest and sweep over a real store (SQLite and PostgreSQL): idempotency,
rejection, alarms and hysteresis, folding, a citizen's report, restarts, silent devices."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agents.perception import Perception
from domain.alarms import Detection, Outcome, Reading
from domain.lifecycle import Status
from domain.models import EventCreate, Source
from domain.vocabulary import Urgency
from knowledge import Knowledge
from store import EventStore

T0 = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def level(device: str, minute: int, value: float, rain: float = 0.0, **kw: Any) -> Reading:
    return Reading(
        message_id=f"{device}-{minute}",
        device_id=device,
        observed_at=T0 + timedelta(minutes=minute),
        metrics={"level_m": value, "rain_mm_h": rain},
        **kw,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make(store: EventStore, knowledge: Knowledge, clock: Clock) -> Callable[[], Perception]:
    return lambda: Perception(store, knowledge, None, clock=clock)


def test_a_redelivered_batch_changes_nothing(
    store: EventStore, make: Callable[[], Perception], clock: Clock
) -> None:
    p = make()
    batch = [level("YZ-WL-01", 5 * i, v) for i, v in enumerate([0.1, 0.2, 0.35, 0.4])]
    clock.now = T0 + timedelta(minutes=20)
    first = p.ingest(batch)
    assert [r.outcome for r in first] == [Outcome.NEW] * 4
    events = store.count_events()
    alarms = store.alarms.list_alarms()
    assert events == 1 and {a["rule_id"] for a in alarms} >= {"AR-WL-01"}
    again = p.ingest([*batch, batch[0]])
    assert [r.outcome for r in again] == [Outcome.DUPLICATE] * 5
    assert store.count_events() == events
    assert store.alarms.list_alarms() == alarms
    assert store.alarms.count_readings() == 4
    # a second process (a restarted consumer) sees the same keys as duplicates too
    assert all(r.outcome is Outcome.DUPLICATE for r in make().ingest(batch))


def test_a_resend_without_message_id_is_recognised_by_content(
    store: EventStore, make: Callable[[], Perception], clock: Clock
) -> None:
    p = make()
    r = Reading(device_id="YZ-GS-01", observed_at=T0, metrics={"ch4_pct_lel": 3.0})
    same = Reading(device_id="YZ-GS-01", observed_at=T0, metrics={"ch4_pct_lel": 3.0})
    out = p.ingest([r, same])
    assert [x.outcome for x in out] == [Outcome.NEW, Outcome.DUPLICATE]
    assert out[0].key == out[1].key


def test_bad_readings_are_refused_in_chinese_and_kept(
    store: EventStore, make: Callable[[], Perception], clock: Clock
) -> None:
    p = make()
    batch = [
        Reading(message_id="a", device_id="XX-UNKNOWN", observed_at=T0, metrics={"level_m": 1}),
        Reading(message_id="b", device_id="YZ-WL-01", observed_at=T0, metrics={"do_mg_l": 5}),
        Reading(
            message_id="c",
            device_id="YZ-WL-01",
            observed_at=T0,
            detection=Detection(label="crowd", confidence=0.9),
        ),
        Reading(
            message_id="d",
            device_id="YZ-AV-01",
            observed_at=T0,
            detection=Detection(label="ufo", confidence=0.9),
        ),
        Reading(
            message_id="e",
            device_id="YZ-GS-01",
            observed_at=T0 + timedelta(days=2),
            metrics={"ch4_pct_lel": 1},
        ),
        Reading(message_id="ok", device_id="YZ-GS-01", observed_at=T0, metrics={"ch4_pct_lel": 1}),
    ]
    out = p.ingest(batch)
    assert [r.outcome for r in out] == [Outcome.REJECTED] * 5 + [Outcome.NEW]
    reasons = [r.reason or "" for r in out[:5]]
    assert "未登记的设备 XX-UNKNOWN" in reasons[0]
    assert "没有指标 do_mg_l" in reasons[1] and "level_m（积水深度）" in reasons[1]
    assert "不上报识别结果" in reasons[2]
    assert "识别标签 ufo" in reasons[3] and "muck_truck" in reasons[3]
    assert "观测时间" in reasons[4]
    kept = {r["key"]: r for r in store.alarms.rejected()}
    assert set(kept) == {"a", "b", "c", "d", "e"}
    assert kept["a"]["body"]["metrics"] == {"level_m": 1.0}  # nothing sent is lost
    assert store.alarms.count_readings() == 1


def test_alarms_of_one_device_fold_into_one_event_with_its_text(
    store: EventStore, make: Callable[[], Perception], clock: Clock, knowledge: Knowledge
) -> None:
    p = make()
    clock.now = T0 + timedelta(hours=1)
    out = p.ingest(
        [
            level("YZ-WL-01", 0, 0.05),
            level("YZ-WL-01", 5, 0.2, rain=45),
            level("YZ-WL-01", 10, 0.35, rain=50),
        ]
    )
    assert out[0].event_ids == []
    assert out[1].rule_ids == ["AR-WL-03"]  # heavy rain with water on the road
    assert set(out[2].rule_ids) >= {"AR-WL-01", "AR-WL-02", "AR-WL-03"}
    assert out[1].event_ids == out[2].event_ids
    event = store.get_event(out[1].event_ids[0])
    assert event.source is Source.SENSOR
    assert event.street == "500103007" and event.district == "500103"
    assert event.subtype == "ES04" and event.urgency is Urgency.CRITICAL
    assert "菜园坝下穿道积水监测点" in event.text and "AR-WL-03" in event.text
    assert "雨强45毫米/小时" in event.text
    alarm = event.attributes["alarm"]
    assert alarm["device"] == "YZ-WL-01" and alarm["rules"][0]["id"] == "AR-WL-03"
    assert store.count_events() == 1


def test_nearby_devices_of_the_same_incident_share_an_event(
    store: EventStore, make: Callable[[], Perception], clock: Clock
) -> None:
    p = make()
    clock.now = T0 + timedelta(hours=1)
    a = p.ingest([level("YZ-WL-01", 0, 0.4)])  # 菜园坝
    # a video camera 60 m away sees water on the road: the same incident
    b = p.ingest(
        [
            Reading(
                message_id="cam-1",
                device_id="YZ-AV-05",
                observed_at=T0 + timedelta(minutes=3),
                detection=Detection(
                    label="waterlogging", confidence=0.93, image_ref="oss://f/1.jpg"
                ),
            )
        ]
    )
    assert b[0].rule_ids == ["AR-AV-06"] and b[0].event_ids == a[0].event_ids
    # 大坪, 3 km away, is another incident
    c = p.ingest([level("YZ-WL-02", 4, 0.4)])
    assert c[0].event_ids and c[0].event_ids != a[0].event_ids
    assert store.count_events() == 2


def test_a_flapping_reading_opens_one_alarm_and_one_event(
    store: EventStore, make: Callable[[], Perception], clock: Clock
) -> None:
    p = make()
    clock.now = T0 + timedelta(hours=3)
    values = [0.32, 0.28, 0.31, 0.29, 0.33, 0.2, 0.31]  # around 0.3, never below 0.15
    out = p.ingest([level("YZ-WL-03", 10 * i, v) for i, v in enumerate(values)])
    alarms = [a for a in store.alarms.list_alarms() if a["rule_id"] == "AR-WL-01"]
    assert len(alarms) == 1 and alarms[0]["cleared_at"] is None
    assert alarms[0]["peak"] == {"level_m": 0.33}
    assert store.count_events() == 1
    assert {e for r in out for e in r.event_ids} == {alarms[0]["event_id"]}
    # two readings below the clear value (0.15) close it; the next exceedance is a new alarm
    p.ingest([level("YZ-WL-03", 80, 0.1), level("YZ-WL-03", 90, 0.05)])
    cleared = store.alarms.get_alarm(alarms[0]["id"])
    assert cleared["cleared_at"] == T0 + timedelta(minutes=90)
    p.ingest([level("YZ-WL-03", 100, 0.4)])
    again = [a for a in store.alarms.list_alarms() if a["rule_id"] == "AR-WL-01"]
    assert len(again) == 2


def test_a_restarted_process_goes_on_where_the_last_stopped(
    store: EventStore, make: Callable[[], Perception], clock: Clock
) -> None:
    clock.now = T0 + timedelta(hours=2)

    def do(minute: int, value: float) -> Reading:
        return Reading(
            message_id=f"wq-{minute}",
            device_id="YZ-WQ-01",
            observed_at=T0 + timedelta(minutes=minute),
            metrics={"do_mg_l": value, "ph": 7.2 + minute / 1000},
        )

    make().ingest([do(0, 3.4), do(5, 2.8), do(10, 2.6)])
    assert store.count_events() == 0  # two low readings: not yet three in a row
    second = make()  # the process restarted: the window is rebuilt from the store
    out = second.ingest([do(15, 2.5)])
    assert out[0].rule_ids == ["AR-WQ-01"] and out[0].event_ids
    third = make()
    more = third.ingest([do(20, 2.4)])
    assert more[0].rule_ids == ["AR-WQ-01"] and more[0].alarm_ids == out[0].alarm_ids
    assert more[0].event_ids == out[0].event_ids  # extended, not opened again
    assert store.count_events() == 1


def test_an_alarm_joins_a_citizens_open_report_as_a_duplicate(
    store: EventStore, make: Callable[[], Perception], clock: Clock
) -> None:
    report, _ = store.add_event(
        EventCreate(
            source=Source.HOTLINE,
            text="市民来电：菜园坝下穿道积水很深，车都过不去了",
            reported_at=T0,
            lat=29.5470,
            lon=106.5449,
        ),
        now=T0,
    )
    store.set_classification(
        report.id,
        street="500103007",
        district="500103",
        subtype="ES04",
        category="ES",
        urgency=Urgency.URGENT,
        now=T0,
    )
    clock.now = T0 + timedelta(hours=1)
    out = make().ingest([level("YZ-WL-01", 20, 0.45)])
    alarm_event = store.get_event(out[0].event_ids[0])
    assert alarm_event.duplicate_of == report.id and alarm_event.status is Status.CLOSED
    merge = store.history(alarm_event.id)[-1]
    assert merge["action"] == "merge_duplicate"
    assert merge["payload"]["evidence"]["readings"]["level_m"] == 0.45
    assert "同一事项" in merge["reason"]
    assert store.get_event(report.id).status is Status.RECEIVED  # the report goes on
    # the same incident's next alarm joins the same evidence, not one more duplicate
    more = make().ingest([level("YZ-WL-01", 25, 0.5, rain=40)])
    assert more[0].event_ids == out[0].event_ids and store.count_events() == 2


def test_a_silent_device_is_one_event_per_outage(
    store: EventStore, make: Callable[[], Perception], clock: Clock
) -> None:
    p = make()
    clock.now = T0
    p.ingest(
        [
            Reading(
                message_id="g0", device_id="YZ-GS-02", observed_at=T0, metrics={"ch4_pct_lel": 0.5}
            )
        ]
    )
    assert p.sweep(T0 + timedelta(minutes=2)) == []  # 3 intervals of 60 s have not passed
    first = p.sweep(T0 + timedelta(minutes=10))
    assert [r.rule_ids for r in first] == [["AR-GS-90"]]
    event = store.get_event(first[0].event_ids[0])
    assert event.subtype == "ES11" and "已10分钟没有上报数据" in event.text
    assert event.attributes["alarm"]["owner"] == "gas_company"
    assert p.sweep(T0 + timedelta(minutes=30)) == []  # the same outage
    assert make().sweep(T0 + timedelta(minutes=40)) == []  # also after a restart
    p.ingest(
        [
            Reading(
                message_id="g1",
                device_id="YZ-GS-02",
                observed_at=T0 + timedelta(minutes=41),
                metrics={"ch4_pct_lel": 0.6},
            )
        ]
    )
    silent = store.alarms.get_alarm(first[0].alarm_ids[0])
    assert silent["cleared_at"] == T0 + timedelta(minutes=41)
    second = p.sweep(T0 + timedelta(minutes=60))
    assert [r.rule_ids for r in second] == [["AR-GS-90"]]
    assert second[0].event_ids != first[0].event_ids
    # devices that never reported are listed as silent, not raised as outages
    assert {r.key for r in second} == {"sweep:YZ-GS-02"}


def test_a_failed_batch_leaves_nothing_behind(
    store: EventStore, make: Callable[[], Perception], clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = make()
    clock.now = T0 + timedelta(hours=1)
    batch = [level("YZ-WL-01", 0, 0.1), level("YZ-WL-01", 5, 0.4)]

    from store import StoreError

    def boom(*args: Any, **kw: Any) -> None:
        raise StoreError("磁盘已满")

    monkeypatch.setattr(store.alarms, "save_status", boom)  # fails at the end of the batch
    with pytest.raises(StoreError):
        p.ingest(batch)
    monkeypatch.undo()
    assert store.alarms.count_readings() == 0 and store.count_events() == 0
    out = p.ingest(batch)  # the retry is processed as if the first never happened
    assert [r.outcome for r in out] == [Outcome.NEW, Outcome.NEW]
    assert set(out[1].rule_ids) == {"AR-WL-01", "AR-WL-02"} and store.count_events() == 1


def test_the_services_sweep_in_the_background_until_closed(
    store_url: str, knowledge: Knowledge, clock: Clock
) -> None:
    import threading
    import time

    from agents.deps import AgentDeps
    from agents.runtime import Services
    from settings import Settings

    store = EventStore.open(store_url, knowledge.store_rules)
    deps: Any = AgentDeps(store, knowledge, None, None, clock)  # type: ignore[arg-type]
    services = Services(Settings(), deps, None, None)  # type: ignore[arg-type]
    services.perception.ingest(
        [Reading(message_id="s0", device_id="YZ-GS-01", observed_at=T0, metrics={"ch4_pct_lel": 1})]
    )
    clock.now = T0 + timedelta(minutes=10)
    services.sweep_every(0.05)
    deadline = time.monotonic() + 30  # a bound on waiting, not a timing assertion
    while not store.alarms.list_alarms(open_only=True) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [a["rule_id"] for a in store.alarms.list_alarms(open_only=True)] == ["AR-GS-90"]
    sweepers = [t for t in threading.enumerate() if t.name == "sanji-perception-sweep"]
    assert sweepers
    services.close()
    for t in sweepers:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in sweepers)


def test_two_processes_on_one_store_extend_one_alarm(
    store: EventStore, make: Callable[[], Perception], clock: Clock
) -> None:
    clock.now = T0 + timedelta(hours=1)
    first, second = make(), make()  # e.g. the API server and a broker consumer
    a = first.ingest([level("YZ-WL-02", 0, 0.4)])
    b = second.ingest([level("YZ-WL-02", 5, 0.45)])
    assert "AR-WL-01" in b[0].rule_ids
    assert set(b[0].alarm_ids) & set(a[0].alarm_ids)
    assert b[0].event_ids == a[0].event_ids and store.count_events() == 1
    alarm = next(x for x in store.alarms.list_alarms() if x["rule_id"] == "AR-WL-01")
    assert alarm["readings"] == 2 and alarm["peak"] == {"level_m": 0.45}


def test_a_muck_truck_hours_later_is_a_new_alarm_and_event(
    store: EventStore, make: Callable[[], Perception], clock: Clock
) -> None:
    p = make()
    clock.now = T0 + timedelta(hours=3)

    def truck(minute: int) -> Reading:
        return Reading(
            message_id=f"truck-{minute}",
            device_id="YB-AV-02",
            observed_at=T0 + timedelta(minutes=minute),
            detection=Detection(label="muck_truck", confidence=0.9),
        )

    first = p.ingest([truck(0), truck(10)])
    assert first[0].alarm_ids == first[1].alarm_ids  # ten minutes later: the same alarm
    later = p.ingest([truck(150)])
    assert later[0].alarm_ids != first[0].alarm_ids
    assert later[0].event_ids != first[0].event_ids and store.count_events() == 2
    old = store.alarms.get_alarm(first[0].alarm_ids[0])
    assert old["cleared_at"] == T0 + timedelta(minutes=150)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"observed_at": "9999-12-31T23:00:00-12:00", "metrics": {"x": 1}}, "1990 年到 2100 年"),
        ({"observed_at": "2026-07-01T08:00:00Z", "metrics": {"x": float("nan")}}, "不是有效数字"),
        ({"observed_at": "2026-07-01T08:00:00Z", "metrics": {"x\x00": 1}}, "无法保存的字符"),
        (
            {
                "observed_at": "2026-07-01T08:00:00Z",
                "metrics": {"x": 1},
                "attributes": {"v": float("inf")},
            },
            "NaN 或无穷大",
        ),
    ],
)
def test_readings_no_database_can_store_are_refused_at_the_door(
    body: dict[str, Any], message: str
) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as err:
        Reading.model_validate({"device_id": "YZ-GS-01", **body})
    assert message in str(err.value)


def test_device_status_keeps_the_latest_value_of_every_metric(
    store: EventStore, make: Callable[[], Perception], clock: Clock, knowledge: Knowledge
) -> None:
    from domain.models import Scope
    from tools.devices import DeviceQuery, device_statuses

    clock.now = T0 + timedelta(minutes=30)
    p = make()
    p.ingest(
        [
            Reading(
                message_id="r1", device_id="YZ-WL-03", observed_at=T0, metrics={"rain_mm_h": 12.0}
            ),
            Reading(
                message_id="v1",
                device_id="YZ-AV-03",
                observed_at=T0,
                detection=Detection(label="garbage_pile", confidence=0.7),
            ),
        ]
    )
    make().ingest(  # another batch, another process: rain is still known
        [
            Reading(
                message_id="r2",
                device_id="YZ-WL-03",
                observed_at=T0 + timedelta(minutes=5),
                metrics={"level_m": 0.02},
            )
        ]
    )
    found = {
        d.id: d
        for d in device_statuses(
            store, knowledge, Scope(everything=True), DeviceQuery(now=clock.now, district="500103")
        )
    }
    assert found["YZ-WL-03"].last_values == {"rain_mm_h": 12.0, "level_m": 0.02}
    assert found["YZ-AV-03"].last_values == {"label": "garbage_pile", "confidence": 0.7}
    assert found["YZ-WL-03"].state == "silent"  # 25 minutes at a 5-minute interval
    assert found["YZ-WL-01"].state == "silent" and found["YZ-WL-01"].last_seen is None


def test_message_ids_are_unique_per_device_not_across_devices(
    store: EventStore, make: Callable[[], Perception]
) -> None:
    p = make()
    out = p.ingest(
        [
            Reading(
                message_id="1", device_id="YZ-GS-01", observed_at=T0, metrics={"ch4_pct_lel": 1}
            ),
            Reading(
                message_id="1", device_id="YZ-GS-02", observed_at=T0, metrics={"ch4_pct_lel": 2}
            ),
        ]
    )
    assert [r.outcome for r in out] == [Outcome.NEW, Outcome.NEW]
    again = p.ingest(
        [Reading(message_id="1", device_id="YZ-GS-02", observed_at=T0, metrics={"ch4_pct_lel": 2})]
    )
    assert again[0].outcome is Outcome.DUPLICATE
    assert store.alarms.count_readings() == 2


def test_one_reading_the_pipeline_cannot_handle_does_not_block_the_batch(
    store: EventStore, make: Callable[[], Perception], monkeypatch: pytest.MonkeyPatch
) -> None:
    import agents.perception as perception

    real = perception.evaluate

    def fragile(kind: Any, rules: Any, window: Any, opened: Any, now: datetime) -> Any:
        if kind.code == "manhole":
            raise ZeroDivisionError("a bug met by one reading")
        return real(kind, rules, window, opened, now)

    monkeypatch.setattr(perception, "evaluate", fragile)
    p = make()
    batch = [
        Reading(
            message_id="ok-1", device_id="YZ-GS-01", observed_at=T0, metrics={"ch4_pct_lel": 1}
        ),
        Reading(message_id="bad", device_id="YZ-MH-01", observed_at=T0, metrics={"tilt_deg": 3}),
        Reading(
            message_id="ok-2", device_id="YZ-GS-02", observed_at=T0, metrics={"ch4_pct_lel": 1}
        ),
    ]
    out = p.ingest(batch)
    assert [r.outcome for r in out] == [Outcome.NEW, Outcome.REJECTED, Outcome.NEW]
    assert "ZeroDivisionError" in (out[1].reason or "")
    kept = store.alarms.rejected()
    assert [(r["key"], r["body"]["metrics"]) for r in kept] == [("bad", {"tilt_deg": 3.0})]
    assert store.alarms.count_readings() == 2
    # a redelivery of the same batch: the good ones are duplicates, the bad one stays refused
    again = p.ingest(batch)
    assert [r.outcome for r in again] == [Outcome.DUPLICATE, Outcome.REJECTED, Outcome.DUPLICATE]


def test_a_store_that_is_down_raises_and_keeps_nothing(
    store: EventStore, make: Callable[[], Perception], monkeypatch: pytest.MonkeyPatch
) -> None:
    from store import StoreError

    p = make()

    def down(*args: Any, **kw: Any) -> Any:
        raise StoreError("数据库暂不可用")

    monkeypatch.setattr(store.alarms, "add_readings", down)
    with pytest.raises(StoreError):
        p.ingest([level("YZ-WL-01", 0, 0.5)])
    monkeypatch.undo()
    assert store.alarms.rejected() == [] and store.alarms.count_readings() == 0


def test_a_flat_line_is_a_data_quality_event_that_clears_when_it_moves(
    store: EventStore, make: Callable[[], Perception], clock: Clock
) -> None:
    p = make()
    clock.now = T0 + timedelta(hours=2)

    def wq(minute: int, value: float) -> Reading:
        return Reading(
            message_id=f"flat-{minute}",
            device_id="JB-WQ-01",
            observed_at=T0 + timedelta(minutes=minute),
            metrics={"do_mg_l": value, "ph": 7.1 + minute / 1000},
        )

    out = p.ingest([wq(5 * i, 6.4) for i in range(12)])
    assert out[-1].rule_ids == ["AR-WQ-91"] and all(not r.rule_ids for r in out[:-1])
    event = store.get_event(out[-1].event_ids[0])
    assert event.subtype == "ES11" and event.text.startswith("感知设备数据异常")
    assert event.attributes["alarm"]["data_quality"] is True
    assert "溶解氧连续12次读数完全相同" in event.text
    p.ingest([wq(60, 6.5)])
    assert store.alarms.get_alarm(out[-1].alarm_ids[0])["cleared_at"] == T0 + timedelta(minutes=60)
