"""The perception API over real HTTP on SQLite and PostgreSQL: readings in (one, a batch, a
redelivery, bad input), alarms and their chart, devices and their state, all under scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from domain.alarms import MAX_BATCH
from tests.live import Live, live_on_both_backends

live = live_on_both_backends(events=20)


def at(minutes_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat()


def reading(device: str, message: str, minutes_ago: float, **metrics: float) -> dict[str, Any]:
    return {
        "message_id": message,
        "device_id": device,
        "observed_at": at(minutes_ago),
        "metrics": metrics,
    }


def test_a_reading_over_its_rule_becomes_an_alarm_an_event_and_a_draft(live: Live) -> None:
    with live.client("yuzhong") as c:
        r = c.post("/api/v1/alarms", json=reading("YZ-WL-02", "api-wl-1", 2, level_m=0.41))
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["new"], body["duplicate"], body["rejected"]) == (1, 0, 0)
        result = body["results"][0]
        assert "AR-WL-01" in result["rule_ids"] and result["event_ids"]
        event_id = result["event_ids"][0]
        draft = c.get(f"/api/v1/events/{event_id}/draft").json()
        assert draft["category"]["code"] == "ES04"
        assert "AR-WL-01" in [x["id"] for x in draft["alarm_rules"]]
        listed = c.get("/api/v1/alarms", params={"open": "true", "device": "YZ-WL-02"}).json()
        alarm = next(a for a in listed if a["rule_id"] == "AR-WL-01")
        assert alarm["event_id"] == event_id and alarm["open"]
        assert alarm["rule_name"] == "积水超警戒深度" and alarm["device_name"].startswith("渝中区")
        detail = c.get(f"/api/v1/alarms/{alarm['id']}").json()
        assert [p["metrics"]["level_m"] for p in detail["series"]] == [0.41]
        level = next(m for m in detail["metrics"] if m["code"] == "level_m")
        assert (level["threshold"], level["clear"], level["unit"]) == (0.3, 0.15, "米")
        # the same message again changes nothing
        before = c.get("/api/v1/alarms", params={"device": "YZ-WL-02"}).json()
        again = c.post("/api/v1/alarms", json=[reading("YZ-WL-02", "api-wl-1", 2, level_m=0.41)])
        assert again.json()["duplicate"] == 1
        assert c.get("/api/v1/alarms", params={"device": "YZ-WL-02"}).json() == before
        assert c.get(f"/api/v1/alarms/{alarm['id']}").json()["readings"] == 1
        assert [a["id"] for a in c.get("/api/v1/alarms", params={"event": event_id}).json()]


def test_a_batch_mixes_new_duplicate_and_refused_readings(live: Live) -> None:
    batch = [
        reading("YZ-GS-01", "api-gs-1", 3, ch4_pct_lel=0.5),
        reading("YZ-GS-01", "api-gs-1", 3, ch4_pct_lel=0.5),
        reading("NO-SUCH-1", "api-x-1", 3, ch4_pct_lel=0.5),
        reading("YZ-GS-01", "api-gs-2", 2, nh3n_mg_l=0.5),
    ]
    with live.client("yuzhong") as c:
        body = c.post("/api/v1/alarms", json=batch).json()
    assert [r["outcome"] for r in body["results"]] == ["new", "duplicate", "rejected", "rejected"]
    assert "未登记的设备 NO-SUCH-1" in body["results"][2]["reason"]
    assert "没有指标 nh3n_mg_l" in body["results"][3]["reason"]


def test_bad_input_is_a_422_in_chinese(live: Live) -> None:
    with live.client("yuzhong") as c:
        r = c.post("/api/v1/alarms", json={"device_id": "YZ-GS-01", "metrics": {"ch4_pct_lel": 1}})
        assert r.status_code == 422 and "缺少观测时间" in r.json()["detail"]
        r = c.post(
            "/api/v1/alarms",
            json=[
                reading("YZ-GS-01", "ok", 1, ch4_pct_lel=1),
                {"device_id": "YZ-GS-01", "observed_at": at(1), "metrics": {"ch4_pct_lel": "很高"}},
            ],
        )
        assert r.status_code == 422 and "第2条.指标.ch4_pct_lel应为数字" in r.json()["detail"]
        r = c.post("/api/v1/alarms", json={"device_id": "YZ-GS-01", "observed_at": at(1)})
        assert r.status_code == 422 and "读数为空" in r.json()["detail"]
        assert "列表为空" in c.post("/api/v1/alarms", json=[]).json()["detail"]
        many = [reading("YZ-GS-01", f"m{i}", 1, ch4_pct_lel=1) for i in range(MAX_BATCH + 1)]
        r = c.post("/api/v1/alarms", json=many)
        assert r.status_code == 422 and f"最多 {MAX_BATCH} 项" in r.json()["detail"]
        r = c.post(
            "/api/v1/alarms", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert r.status_code == 422 and "JSON" in r.json()["detail"]
        # nothing of the refused requests was stored
        assert c.get("/api/v1/alarms/999999").status_code == 404


def test_alarms_and_devices_stay_in_scope(live: Live) -> None:
    with (
        live.client("jiangbei") as jb,
        live.client("yuzhong") as yz,
        live.client("jiefangbei") as street,
    ):
        r = jb.post("/api/v1/alarms", json=reading("YZ-GS-02", "api-scope-1", 1, ch4_pct_lel=35))
        assert r.json()["results"][0]["outcome"] == "rejected"
        assert "不在您的辖区" in r.json()["results"][0]["reason"]
        r = yz.post("/api/v1/alarms", json=reading("YZ-GS-02", "api-scope-2", 1, ch4_pct_lel=35))
        alarm_id = r.json()["results"][0]["alarm_ids"][0]
        assert jb.get(f"/api/v1/alarms/{alarm_id}").status_code == 404
        assert alarm_id not in [a["id"] for a in jb.get("/api/v1/alarms").json()]
        assert alarm_id in [a["id"] for a in street.get("/api/v1/alarms").json()]  # 解放碑
        assert jb.get("/api/v1/alarms", params={"district": "500103"}).status_code == 403
        devices = street.get("/api/v1/devices").json()
        assert devices and {d["street"] for d in devices} == {"500103003"}
        assert {d["district"] for d in jb.get("/api/v1/devices").json()} == {"500105"}


def test_devices_show_which_are_silent(live: Live) -> None:
    with live.client("yuzhong") as c:
        c.post("/api/v1/alarms", json=reading("YZ-MH-02", "api-mh-1", 90, tilt_deg=1.0))
        c.post("/api/v1/alarms", json=reading("YZ-MH-01", "api-mh-2", 1, tilt_deg=1.0))
        silent = c.get("/api/v1/devices", params={"state": "silent", "kind": "manhole"}).json()
        ids = [d["id"] for d in silent]
        assert "YZ-MH-02" in ids and "YZ-MH-01" not in ids
        mh = next(d for d in silent if d["id"] == "YZ-MH-02")
        assert mh["state_zh"] == "离线" and mh["minutes_silent"] >= 89
        assert mh["last_values"] == {"tilt_deg": 1.0}
        r = c.get("/api/v1/devices", params={"kind": "toaster"})
        assert r.status_code == 422 and "未知的设备类型" in r.json()["detail"]


def test_a_rate_alarms_chart_draws_no_level_line(live: Live) -> None:
    rising = [
        reading("YZ-WL-03", "api-rate-1", 12, level_m=0.01),
        reading("YZ-WL-03", "api-rate-2", 6, level_m=0.24),
    ]
    with live.client("yuzhong") as c:
        body = c.post("/api/v1/alarms", json=rising).json()
        assert body["results"][1]["rule_ids"] == ["AR-WL-02"]
        detail = c.get(f"/api/v1/alarms/{body['results'][1]['alarm_ids'][0]}").json()
    assert detail["rule_type"] == "rate" and "6分钟内由0.01上升至0.24米" in detail["why"]
    level = next(m for m in detail["metrics"] if m["code"] == "level_m")
    assert level["threshold"] is None and level["clear"] is None
    assert [p["metrics"]["level_m"] for p in detail["series"]] == [0.01, 0.24]
