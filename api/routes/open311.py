"""Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2) under ``/open311/v2/``.

Services are the taxonomy's subtypes and are public. Requests are events: reading them needs
credentials (the ``api_key`` parameter, HTTP Basic with the key as password, or a bearer
token) and answers within the caller's scope; texts are masked for roles that do not need
personal information. Our lifecycle maps to ``open``/``closed`` with the Chinese state and
the latest step in ``status_notes``; ``agency_responsible`` is the lead department."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import ValidationError

from api.deps import KnowledgeDep, StoreDep
from api.errors import ERROR_RESPONSES
from api.schemas import (
    Open311Error,
    Open311Receipt,
    Open311Request,
    Open311Service,
    Open311ServiceDefinition,
)
from api.security import identify
from domain.access import Principal
from domain.clock import CHINA_TZ
from domain.lifecycle import Action, Status
from domain.models import Event, EventCreate, Source
from domain.text import CONTROL, check_storable, fit_text, is_empty
from knowledge import Knowledge
from store import EventStore, NotFound
from tools.pii import mask_text
from tools.scope import covers, visible_event

#: GeoReport errors are lists of ``{code, description}``
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": list[Open311Error], "description": text}
    for code, text in ((400, "请求有误"), (401, "需要有效的 api_key"), (404, "不存在"))
}
router = APIRouter(prefix="/open311/v2", tags=["open311"], responses={**ERROR_RESPONSES, **_ERRORS})

CLOSED = {Status.RESOLVED, Status.VERIFIED, Status.CLOSED}
MAX_RESULTS = 1000


def _error(code: int, description: str) -> HTTPException:
    return HTTPException(code, detail=[{"code": code, "description": description}])


def _check_jurisdiction(k: Knowledge, jurisdiction_id: str | None) -> None:
    if jurisdiction_id and jurisdiction_id not in k.jurisdictions:
        raise _error(404, f"jurisdiction_id {jurisdiction_id} 不是本系统的辖区编码")


@router.get("/services.json", response_model=list[Open311Service])
def services(knowledge: KnowledgeDep, jurisdiction_id: str | None = None) -> list[dict[str, Any]]:
    """服务目录：每个事件小类是一项服务。"""
    _check_jurisdiction(knowledge, jurisdiction_id)
    return [
        {
            "service_code": st.code,
            "service_name": st.name,
            "description": st.description,
            "metadata": False,
            "type": "realtime",
            "keywords": ",".join(st.keywords[:8]),
            "group": knowledge.categories[st.category].name,
        }
        for st in knowledge.subtypes.values()
    ]


@router.get("/services/{service_code}.json", response_model=Open311ServiceDefinition)
def service_definition(
    service_code: str, knowledge: KnowledgeDep, jurisdiction_id: str | None = None
) -> dict[str, Any]:
    _check_jurisdiction(knowledge, jurisdiction_id)
    if service_code not in knowledge.subtypes:
        raise _error(404, f"没有服务编码 {service_code}")
    return {"service_code": service_code, "attributes": []}


async def _principal(
    request: Request, store: EventStore, k: Knowledge, form: Any = None
) -> Principal:
    key = request.query_params.get("api_key") or (form.get("api_key") if form is not None else None)
    token, principal = identify(request, store, k, api_key=str(key) if key else None)
    if not token:
        raise _error(401, "需要 api_key")
    if principal is None:
        raise _error(401, "api_key 无效或已吊销")
    return principal


def _requests(
    events: list[Event], store: EventStore, k: Knowledge, principal: Principal
) -> list[dict[str, Any]]:
    progress = store.latest_progress([e.id for e in events])
    return [_request(e, k, principal, progress.get(e.id)) for e in events]


def _progress_note(k: Knowledge, event: Event, step: dict[str, Any], principal: Principal) -> str:
    """「渝中区城市管理局 进展反馈：已到场处置（05-01 10:00）」"""
    code = step["payload"].get("department") or event.lead_department or ""
    dept = k.departments.get(code)
    action = Action(step["action"])
    reason = step.get("reason") or ""
    if reason and not principal.reveals_personal:
        reason = mask_text(reason)
    when = step["at"].astimezone(CHINA_TZ).strftime("%m-%d %H:%M") if step["at"] else ""
    who = dept.name if dept else "承办部门"
    return f"{who} {action.zh}" + (f"：{reason}" if reason else "") + f"（{when}）"


def _request(
    event: Event, k: Knowledge, principal: Principal, step: dict[str, Any] | None = None
) -> dict[str, Any]:
    lead = k.departments.get(event.lead_department or "")
    st = k.subtypes.get(event.subtype or "")
    text = event.text if principal.reveals_personal else mask_text(event.text)
    notes = event.status.zh + ("（督办）" if event.supervised else "")
    if event.duplicate_of:
        notes += f"；已并入事件 {event.duplicate_of}"
    if step is not None:
        notes += "；" + _progress_note(k, event, step, principal)
    return {
        "service_request_id": str(event.id),
        "status": "closed" if event.status in CLOSED else "open",
        "status_notes": notes,
        "service_name": st.name if st else None,
        "service_code": event.subtype or event.attributes.get("open311_service_code"),
        "description": text,
        "agency_responsible": lead.name if lead else None,
        "service_notice": None,
        "requested_datetime": event.reported_at.isoformat(),
        "updated_datetime": event.updated_at.isoformat(),
        "expected_datetime": event.due_at.isoformat() if event.due_at else None,
        "address": event.address,
        "address_id": None,
        "zipcode": None,
        "lat": event.lat,
        "long": event.lon,
        "media_url": event.attributes.get("media_url"),
    }


@router.get("/requests.json", response_model=list[Open311Request])
async def list_requests(
    request: Request,
    store: StoreDep,
    knowledge: KnowledgeDep,
    jurisdiction_id: str | None = None,
    service_request_id: str | None = None,
    service_code: str | None = None,
    start_date: datetime | None = None,
    end_date: datetime | None = None,
    status: str | None = None,
) -> list[dict[str, Any]]:
    """诉求列表（本人辖区内；默认近 90 天，最多 1000 条）。"""
    principal = await _principal(request, store, knowledge)
    _check_jurisdiction(knowledge, jurisdiction_id)
    if service_request_id:
        raws = [raw.strip() for raw in service_request_id.split(",")]
        # ids that cannot exist (not digits, too long for the id column) match nothing
        ids = [int(raw) for raw in raws if raw.isdigit() and len(raw) <= 18]
        return _requests(
            [e for e in store.get_events(ids) if covers(store, principal, e)],
            store,
            knowledge,
            principal,
        )
    if status not in (None, "open", "closed"):
        raise _error(400, "status 只能是 open 或 closed")
    until = end_date or datetime.now(UTC)
    since = start_date or until - timedelta(days=90)
    statuses = [s.value for s in Status if (s in CLOSED) == (status == "closed")] if status else []
    try:
        check_storable(service_code)
    except ValueError as exc:
        raise _error(400, f"service_code {exc}") from None
    rows, _ = store.search(
        principal.scope,
        subtypes=service_code.split(",") if service_code else [],
        statuses=statuses,
        since=since,
        until=until,
        limit=MAX_RESULTS,
        count=False,
    )
    return _requests(store.get_events([r["id"] for r in rows]), store, knowledge, principal)


@router.get("/requests/{request_id}.json", response_model=list[Open311Request])
async def get_request(
    request_id: str,
    request: Request,
    store: StoreDep,
    knowledge: KnowledgeDep,
    jurisdiction_id: str | None = None,
) -> list[dict[str, Any]]:
    principal = await _principal(request, store, knowledge)
    _check_jurisdiction(knowledge, jurisdiction_id)
    try:
        event = visible_event(store, principal.scope, principal.actor, int(request_id))
    except (ValueError, NotFound):
        raise _error(404, f"没有编号为 {request_id} 的诉求") from None
    return _requests([event], store, knowledge, principal)


@router.post(
    "/requests.json",
    status_code=201,
    response_model=list[Open311Receipt],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["service_code"],
                        "properties": {
                            name: {"type": "string"}
                            for name in (
                                "api_key",
                                "service_code",
                                "jurisdiction_id",
                                "lat",
                                "long",
                                "address_string",
                                "description",
                                "first_name",
                                "last_name",
                                "phone",
                                "email",
                                "device_id",
                                "account_id",
                                "media_url",
                            )
                        },
                    }
                }
            },
        }
    },
)
async def create_request(
    request: Request, store: StoreDep, knowledge: KnowledgeDep
) -> list[Open311Receipt]:
    """提交诉求（表单编码，需要 api_key）。返回诉求编号；分拨由本系统完成。"""
    form = await request.form()
    principal = await _principal(request, store, knowledge, form)
    _check_jurisdiction(knowledge, _str(form.get("jurisdiction_id")))
    code = _str(form.get("service_code"))
    if not code:
        raise _error(400, "缺少 service_code")
    if code not in knowledge.subtypes:
        raise _error(404, f"没有服务编码 {code}")
    lat, lon = _float(form.get("lat"), "lat"), _float(form.get("long"), "long")
    address = _str(form.get("address_string"))
    if (lat is None or lon is None) and not address:
        raise _error(400, "需要 lat 和 long，或 address_string")
    description = CONTROL.sub("", _str(form.get("description")) or "")
    if is_empty(description):  # nothing visible: the service names the problem
        description = knowledge.subtypes[code].name
    name = " ".join(x for x in (_str(form.get("last_name")), _str(form.get("first_name"))) if x)
    attributes: dict[str, Any] = {"open311_service_code": code}
    for key, value in form.multi_items():
        if key.startswith("attribute["):
            attributes.setdefault("open311_attributes", {})[key] = str(value)
    for key in ("email", "device_id", "account_id", "media_url"):
        if form.get(key):
            attributes[key] = _str(form.get(key))
    text, attributes, _ = fit_text(description, attributes)
    try:
        create = EventCreate(
            source=Source.WEB,
            text=text,
            reported_at=datetime.now(UTC),
            address=address[:500] if address else None,
            lat=lat,
            lon=lon,
            reporter_name=name[:100] or None,
            reporter_phone=(_str(form.get("phone")) or "")[:32] or None,
            attributes=attributes,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        reason = str(first["msg"]).removeprefix("Value error, ")
        raise _error(400, f"诉求内容有误：{where} {reason}") from exc
    event, _ = store.add_event(create, now=datetime.now(UTC), actor=principal.actor)
    notice = "诉求已受理，将由城市运行和治理中心分拨办理。"
    return [
        Open311Receipt(service_request_id=str(event.id), service_notice=notice, account_id=None)
    ]


def _str(value: Any) -> str | None:
    return str(value).strip() if value is not None and str(value).strip() else None


def _float(value: Any, name: str) -> float | None:
    text = _str(value)
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        raise _error(400, f"{name} 应为数字") from None
