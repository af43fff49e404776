"""``device_statuses``: which registered devices are online, silent or stuck, from the stored
device status and open alarms (so every process and replica answers alike). A device that
never sent a reading is silent (登记后从未上报): no data is what an officer must see. Time
passed in."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from domain.models import Scope
from knowledge import Knowledge
from store import EventStore
from tools.alarms import is_silent

State = Literal["online", "silent", "stuck"]
STATE_ZH = {"online": "在线", "silent": "离线", "stuck": "数据异常"}


class DeviceQuery(BaseModel):
    now: datetime = Field(description="查询时刻")
    state: State | None = Field(default=None, description="只列出该状态的设备")
    district: str | None = Field(default=None, description="区县编码")
    kind: str | None = Field(default=None, description="设备类型")


class DeviceStatus(BaseModel):
    id: str
    name: str
    kind: str
    kind_zh: str
    street: str | None
    district: str
    lat: float
    lon: float
    owner: str
    owner_name: str = Field(description="设备权属单位")
    interval_s: int
    state: State
    state_zh: str
    last_seen: datetime | None = Field(description="最近一次读数的观测时间")
    minutes_silent: float | None = Field(description="距最近一次读数的分钟数")
    last_values: dict[str, float | str] = Field(
        default={}, description="各指标最近一次的值；AI 视频为最近一次识别的标签和置信度"
    )
    open_alarms: list[str] = Field(default=[], description="未解除告警的规则编号")


def device_statuses(
    store: EventStore, k: Knowledge, scope: Scope, q: DeviceQuery
) -> list[DeviceStatus]:
    """列出本辖区登记的感知设备及其状态（在线、离线、数据异常）、最近一次读数和权属单位：断线的在前（断线最久的最前），登记后从未上报的其次。"""
    s = k.sensing
    stored = store.alarms.statuses()
    open_by_device: dict[str, list[str]] = {}
    for a in store.alarms.open_alarms():
        open_by_device.setdefault(a["device_id"], []).append(a["rule_id"])
    out = []
    for device in s.devices.values():
        if not scope.allows(device.district, device.street):
            continue
        if q.district and device.district != q.district:
            continue
        if q.kind and device.kind != q.kind:
            continue
        row = stored.get(device.id) or {}
        last = row.get("last_observed")
        rules = {r.id: r for r in s.rules_of(device.kind)}
        alarms = open_by_device.get(device.id, [])
        # no reading ever, an open silent alarm, or no reading for the silent rule's intervals
        silent = (
            last is None
            or any(rules[r].type == "silent" for r in alarms if r in rules)
            or any(
                is_silent(r, device.interval_s, last, last, q.now)
                for r in rules.values()
                if r.type == "silent"
            )
        )
        stuck = any(rules[r].type == "stuck" for r in alarms if r in rules)
        state: State = "silent" if silent else "stuck" if stuck else "online"
        if q.state and state != q.state:
            continue
        kind = s.kinds[device.kind]
        owner = k.departments.get(f"{device.district}.{device.owner}") or k.departments.get(
            f"{k.city.code}.{device.owner}"
        )
        out.append(
            DeviceStatus(
                id=device.id,
                name=device.name,
                kind=device.kind,
                kind_zh=kind.name,
                street=device.street,
                district=device.district,
                lat=device.lat,
                lon=device.lon,
                owner=device.owner,
                owner_name=owner.name if owner else device.owner,
                interval_s=device.interval_s,
                state=state,
                state_zh=STATE_ZH[state],
                last_seen=last,
                minutes_silent=round((q.now - last).total_seconds() / 60, 1) if last else None,
                last_values=row.get("last_values") or {},
                open_alarms=sorted(alarms),
            )
        )
    order = {"silent": 0, "stuck": 1, "online": 2}
    # outages first, longest first; then devices that never reported
    out.sort(key=lambda d: (order[d.state], d.last_seen is None, -(d.minutes_silent or 0), d.id))
    return out
