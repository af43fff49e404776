"""Perception over HTTP: readings in (one or a batch, the embedded way in beside MQTT and NATS),
alarms and devices out. Every read runs under the caller's scope: an alarm elsewhere answers
404, devices elsewhere are not listed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from agents.perception import Perception
from api.deps import KnowledgeDep, PrincipalDep, ServicesDep, StoreDep
from api.errors import ERROR_RESPONSES
from api.schemas import (
    AlarmDetailPublic,
    AlarmMetricPublic,
    AlarmPublic,
    AlarmSeriesPoint,
    AlarmsIngestedPublic,
)
from domain.access import Principal
from domain.alarms import MAX_BATCH, IngestResult, Outcome, Reading
from domain.vocabulary import Urgency
from knowledge import Knowledge
from tools.devices import DeviceQuery, DeviceStatus, device_statuses

router = APIRouter(prefix="/api/v1", tags=["alarms"], responses=ERROR_RESPONSES)

#: how much of the readings before and after an alarm its chart shows
CHART_MARGIN = timedelta(hours=1)


def _inlined(schema: Any, defs: dict[str, Any]) -> Any:
    """A JSON schema with its ``$defs`` references written in place (the request body's
    schema stands alone in the OpenAPI document)."""
    if isinstance(schema, dict):
        ref = schema.get("$ref", "")
        if ref.startswith("#/$defs/"):
            return _inlined(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inlined(v, defs) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inlined(x, defs) for x in schema]
    return schema


def _body_schema() -> dict[str, Any]:
    one = Reading.model_json_schema()
    reading = _inlined(one, one.get("$defs", {}))
    return {
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        reading,
                        {"type": "array", "items": reading, "minItems": 1, "maxItems": MAX_BATCH},
                    ]
                }
            }
        },
        "required": True,
    }


def _perception(services: ServicesDep) -> Perception:
    return services.perception


PerceptionDep = Annotated[Perception, Depends(_perception)]


def _readings(payload: Any) -> list[Reading]:
    """One reading or a list of them, validated; every problem in Chinese (422)."""
    batch = isinstance(payload, list)
    items = payload if batch else [payload]
    if batch and len(items) > MAX_BATCH:
        raise RequestValidationError(
            [{"type": "too_long", "loc": ("body",), "msg": "", "ctx": {"max_length": MAX_BATCH}}]
        )
    if batch and not items:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("body",), "msg": "列表为空，至少要有一条读数"}]
        )
    readings, errors = [], []
    for i, item in enumerate(items):
        try:
            readings.append(Reading.model_validate(item))
        except ValidationError as exc:
            where = ("body", f"第{i + 1}条") if batch else ("body",)
            errors += [
                {
                    **e,
                    "loc": (*where, *e["loc"]),
                    "ctx": {k: str(v) for k, v in (e.get("ctx") or {}).items()},
                }
                for e in exc.errors(include_url=False)
            ]
    if errors:
        raise RequestValidationError(errors)
    return readings


@router.post("/alarms", openapi_extra={"requestBody": _body_schema()})
def ingest_readings(
    payload: Annotated[Any, Body()],
    principal: PrincipalDep,
    knowledge: KnowledgeDep,
    perception: PerceptionDep,
) -> AlarmsIngestedPublic:
    """接收感知设备读数（一条或一批，至多 5000 条）：按消息编号幂等，重复提交不会重复告警；
    未登记的设备或指标被拒收并存档；满足告警规则的读数生成告警，并归并到事件、生成派单草稿。"""
    readings = _readings(payload)
    devices = knowledge.sensing.devices
    mine, foreign = [], {}
    for i, r in enumerate(readings):
        d = devices.get(r.device_id)
        if d is not None and not principal.scope.allows(d.district, d.street):
            foreign[i] = IngestResult(
                key=r.key,
                outcome=Outcome.REJECTED,
                reason=f"设备 {r.device_id} 不在您的辖区内，无权报送其读数",
            )
        else:
            mine.append(r)
    done = iter(perception.ingest(mine))
    results = [foreign[i] if i in foreign else next(done) for i in range(len(readings))]
    count = {o: sum(r.outcome is o for r in results) for o in Outcome}
    return AlarmsIngestedPublic(
        new=count[Outcome.NEW],
        duplicate=count[Outcome.DUPLICATE],
        rejected=count[Outcome.REJECTED],
        results=results,
    )


def _scope_filter(principal: Principal) -> dict[str, Any]:
    scope = principal.scope
    if scope.everything:
        return {}
    return {"districts": list(scope.districts), "streets": list(scope.streets)}


def alarm_view(k: Knowledge, row: dict[str, Any]) -> AlarmPublic:
    s = k.sensing
    device = s.devices.get(row["device_id"])
    rule = s.rule(row["rule_id"])
    kind = s.kinds.get(device.kind) if device else None
    subtype = k.subtypes.get(row["subtype"])
    return AlarmPublic(
        id=row["id"],
        device_id=row["device_id"],
        device_name=device.name if device else row["device_id"],
        kind=device.kind if device else "",
        kind_zh=kind.name if kind else "",
        rule_id=row["rule_id"],
        rule_name=rule.name if rule else row["rule_id"],
        rule_type=rule.type if rule else "",
        subtype=row["subtype"],
        subtype_name=subtype.name if subtype else row["subtype"],
        urgency=Urgency(row["urgency"]),
        street=row["street"],
        district=row["district"],
        lat=row["lat"],
        lon=row["lon"],
        opened_at=row["opened_at"],
        last_at=row["last_at"],
        cleared_at=row["cleared_at"],
        open=row["cleared_at"] is None,
        readings=row["readings"],
        peak=row["peak"],
        why=row["why"],
        event_id=row["event_id"],
    )


@router.get("/alarms")
def list_alarms(
    principal: PrincipalDep,
    store: StoreDep,
    knowledge: KnowledgeDep,
    open: Annotated[bool, Query(description="只列出未解除的告警")] = False,
    device: Annotated[
        str | None, Query(description="设备编号", max_length=64, pattern=r"^[A-Z0-9][A-Z0-9-]*$")
    ] = None,
    district: Annotated[str | None, Query(description="区县编码", pattern=r"^\d{6}$")] = None,
    event: Annotated[int | None, Query(description="事件编号", ge=1, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[AlarmPublic]:
    """告警列表（最新的在前），只含本辖区内的告警。"""
    where = _scope_filter(principal)
    if district is not None:
        streets = [x for x in where.get("streets", []) if x.startswith(district)]
        if not where or district in where["districts"]:
            where = {"districts": [district], "streets": []}
        elif streets:  # a street officer: its own streets in that district
            where = {"districts": [], "streets": streets}
        else:
            raise HTTPException(403, detail=f"无权查看区县 {district} 的告警")
    rows = store.alarms.list_alarms(
        open_only=open, device_id=device, event_id=event, limit=limit, offset=offset, **where
    )
    return [alarm_view(knowledge, r) for r in rows]


@router.get("/alarms/{alarm_id}")
def get_alarm(
    alarm_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    principal: PrincipalDep,
    store: StoreDep,
    knowledge: KnowledgeDep,
) -> AlarmDetailPublic:
    """一条告警及其前后的读数（画图用）、触发的规则和阈值。"""
    row = store.alarms.get_alarm(alarm_id)
    if not principal.scope.allows(row["district"], row["street"]):
        raise HTTPException(404, detail=f"告警 {alarm_id} 不存在或不在您的辖区内")
    view = alarm_view(knowledge, row)
    s = knowledge.sensing
    device = s.devices.get(row["device_id"])
    kind = s.kinds.get(device.kind) if device else None
    rule = s.rules_for(device) if device else ()
    found = next((r for r in rule if r.id == row["rule_id"]), None)
    # a rate rule's value is a change, not a level: no line for it
    limits = {c.metric: c.value for c in found.conditions} if found else {}
    levels = {} if found is None or found.type == "rate" else limits
    clear = found.clear.value if found and found.clear else None
    until = (row["cleared_at"] or row["last_at"]) + CHART_MARGIN
    points = store.alarms.readings_between(
        row["device_id"], row["opened_at"] - CHART_MARGIN, until, limit=500
    )
    wanted = list(limits) or [m for m in row["peak"] if kind and kind.metric(m)]
    metrics = [
        AlarmMetricPublic(
            code=m.code,
            name=m.name,
            unit=m.unit,
            threshold=levels.get(m.code),
            clear=clear if found and found.when and found.when.metric == m.code else None,
        )
        for m in (kind.metrics if kind else [])
        if m.code in wanted or not wanted
    ]
    return AlarmDetailPublic(
        **view.model_dump(),
        metrics=metrics,
        series=[
            AlarmSeriesPoint(
                observed_at=p["observed_at"],
                metrics=p["metrics"],
                label=(p["detection"] or {}).get("label"),
                confidence=(p["detection"] or {}).get("confidence"),
            )
            for p in points
        ],
    )


@router.get("/devices")
def list_devices(
    principal: PrincipalDep,
    store: StoreDep,
    knowledge: KnowledgeDep,
    state: Annotated[
        Literal["online", "silent", "stuck"] | None,
        Query(description="online 在线 / silent 离线 / stuck 数据异常"),
    ] = None,
    district: Annotated[str | None, Query(description="区县编码", pattern=r"^\d{6}$")] = None,
    kind: Annotated[
        str | None, Query(description="设备类型", max_length=64, pattern=r"^[a-z][a-z0-9_]*$")
    ] = None,
) -> list[DeviceStatus]:
    """本辖区内登记的感知设备及其状态（在线、离线、数据异常）和最近一次读数，离线最久的在前。"""
    if kind is not None and kind not in knowledge.sensing.kinds:
        names = "、".join(f"{k.code}（{k.name}）" for k in knowledge.sensing.kinds.values())
        raise HTTPException(422, detail=f"未知的设备类型 {kind}；可选：{names}")
    return device_statuses(
        store,
        knowledge,
        principal.scope,
        DeviceQuery(now=datetime.now(UTC), state=state, district=district, kind=kind),
    )
