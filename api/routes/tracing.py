"""Upstream tracing of a water-quality alarm over HTTP: ``GET /api/v1/alarms/{id}/trace``.

The trace filed with the alarm's event (what was known when it opened), or with
``refresh=true`` a new trace from the stored readings up to the alarm's last reading (the
stations downstream may have seen the plume since). An alarm outside the caller's scope
answers 404, as if it did not exist."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from agents.tracing import data_quality, trace_of_alarm, traceable
from api.deps import KnowledgeDep, PrincipalDep, StoreDep
from api.errors import ERROR_RESPONSES
from api.schemas import AlarmTracePublic
from store import NotFound

router = APIRouter(prefix="/api/v1", tags=["alarms"], responses=ERROR_RESPONSES)


@router.get("/alarms/{alarm_id}/trace", summary="水质告警的上游溯源和联合预警")
def alarm_trace(
    alarm_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    principal: PrincipalDep,
    store: StoreDep,
    knowledge: KnowledgeDep,
    refresh: Annotated[bool, Query(description="按告警最后读数时刻重新溯源")] = False,
) -> AlarmTracePublic:
    try:
        alarm = store.alarms.get_alarm(alarm_id)
    except NotFound:
        raise HTTPException(404, detail=f"告警 {alarm_id} 不存在或不在您的辖区内") from None
    if not principal.scope.allows(alarm["district"], alarm["street"]):
        raise HTTPException(404, detail=f"告警 {alarm_id} 不存在或不在您的辖区内")
    if data_quality(knowledge, alarm["rule_id"]):
        raise HTTPException(
            404, detail=f"告警 {alarm_id} 是设备离线或数据异常告警，不是水质变化，没有上游溯源"
        )
    if not traceable(knowledge, alarm["device_id"]):
        raise HTTPException(
            404,
            detail=f"告警 {alarm_id} 来自设备 {alarm['device_id']}，不是河流网络上的水质监测站，"
            "没有上游溯源",
        )
    computed, trace, warning = trace_of_alarm(store, knowledge, alarm, refresh=refresh)
    return AlarmTracePublic(
        alarm_id=alarm_id,
        event_id=alarm["event_id"],
        device_id=alarm["device_id"],
        computed="filed" if computed == "filed" else "refreshed",
        trace=trace,
        joint_warning=warning,
    )
