"""What an alarm says to officers: the event filed for a new incident (title, Chinese text
from the readings, the device's place, the alarm in its attributes) and the words of a silent
device. Pure functions: the device, the rules that fired and the time come in."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from domain.alarms import Reading
from domain.clock import CHINA_TZ
from domain.models import EventCreate, Source
from knowledge import Knowledge
from knowledge.sensing import Device
from tools.alarms import Firing


def alarm_event(
    k: Knowledge,
    device: Device,
    fired: Sequence[Firing],
    reading: Reading,
    at: datetime,
    alarm_ids: Sequence[int],
) -> EventCreate:
    """The event of a new incident: the most urgent rule names the title, subtype and
    urgency; the text says where, what was read and which rules fired, in Chinese; the
    attributes keep the alarm (rule ids, readings, device, owner) for triage and audit."""
    kind = k.sensing.kinds[device.kind]
    lead = max((f.rule for f in fired), key=lambda r: r.urgency.rank)
    street = k.jurisdictions.get(device.street or "")
    district = k.jurisdictions[device.district]
    place = f"{district.name}{street.name if street else ''}"
    named = device.name if device.name.startswith(district.name) else place + device.name
    local = at.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")
    whys = "；".join(f"{f.why}（规则 {f.rule.id}「{f.rule.name}」）" for f in fired)
    source = Source.AI_VIDEO if kind.source == "ai_video" else Source.SENSOR
    prefix = "AI视频识别告警" if source is Source.AI_VIDEO else "物联感知告警"
    if lead.data_quality:
        prefix = "感知设备数据异常"
    text = (
        f"{prefix}：{named}（{street.name if street else district.name}，设备编号 {device.id}，"
        f"{kind.name}）于{local}{whys}。"
    )
    if reading.detection is not None and reading.detection.image_ref:
        text += f"抓拍图片：{reading.detection.image_ref}。"
    alarm: dict[str, Any] = {
        "ids": list(alarm_ids),
        "device": device.id,
        "device_name": device.name,
        "kind": device.kind,
        "owner": device.owner,
        "subtype": lead.subtype,
        "urgency": lead.urgency.value,
        "data_quality": lead.data_quality,
        "rules": [{"id": f.rule.id, "name": f.rule.name, "why": f.why} for f in fired],
        "readings": {**reading.metrics},
        "detection": reading.detection.model_dump() if reading.detection else None,
        "observed_at": at.isoformat(),
    }
    return EventCreate(
        source=source,
        external_id=f"alarm-{alarm_ids[0]}",
        title=f"{device.name}：{lead.name}",
        text=text,
        reported_at=at,
        address=named,
        lat=device.lat,
        lon=device.lon,
        attributes={"alarm": alarm},
    )


def silent_why(device: Device, last: datetime, now: datetime) -> str:
    """Why a device counts as silent, in Chinese: how long, against its interval."""
    minutes = round((now - last).total_seconds() / 60)
    every = (
        f"{device.interval_s // 60}分钟" if device.interval_s >= 60 else f"{device.interval_s}秒"
    )
    return f"已{minutes}分钟没有上报数据（应每{every}上报一次）"
