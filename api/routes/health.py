"""Health, readiness, and the knowledge callers need: taxonomy, jurisdictions, departments,
return reasons and the regulation search."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from agents import regsearch
from agents.llm import probe_endpoint
from api.deps import DispatcherDep, IndexDep, KnowledgeDep, PrincipalDep, SettingsDep, StoreDep
from api.errors import ERROR_RESPONSES, ErrorBody, error_response
from api.schemas import (
    CategoryPublic,
    DepartmentPublic,
    HealthPublic,
    JurisdictionTreePublic,
    ReadinessPublic,
    ReturnReasonPublic,
)
from api.security import identify
from api.startup import RETRY_AFTER_S, Startup
from settings import Settings
from store.schema import schema_version
from tools.regulations import (
    ArticleHit,
    ArticleQuery,
    RegulationQuery,
    get_article,
    hit_view,
    search_regulations,
)

router = APIRouter(responses=ERROR_RESPONSES)


@router.get(
    "/healthz",
    tags=["health"],
    responses={503: {"model": ErrorBody, "description": "启动失败，进程需要重启"}},
)
def healthz(request: Request) -> HealthPublic:
    """存活检查：进程在运行就立即应答（启动预热期间也是）；只有启动失败时返回 503。"""
    failed = _startup(request).failed
    if failed is not None:
        raise HTTPException(503, detail=f"服务启动失败：{failed}")
    return HealthPublic(status="ok")


def _startup(request: Request) -> Startup:
    return request.app.state.startup


@router.get(
    "/readyz",
    tags=["health"],
    response_model=ReadinessPublic,
    responses={503: {"model": ReadinessPublic, "description": "未就绪（预热中或依赖不可用）"}},
)
def readyz(request: Request, settings: SettingsDep) -> JSONResponse:
    """就绪检查：预热期间返回 503 和进度（warming_up、progress），就绪后检查数据库、法规索引
    和大模型。"""
    startup = _startup(request)
    if not startup.ready:
        failed = startup.failed
        return JSONResponse(
            {
                "ready": False,
                "warming_up": failed is None,
                "degraded": False,
                "progress": startup.progress(),
                "checks": {"startup": {"ok": False, "error": failed}} if failed else {},
            },
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    services = startup.services
    store, knowledge, index = services.store, services.knowledge, services.index
    checks: dict[str, Any] = {}
    ok = True
    try:
        checks["database"] = {
            "ok": True,
            "dialect": store.db.dialect,
            "schema": schema_version(store.db),
        }
    except Exception as exc:  # readiness reports, it does not crash
        checks["database"] = {"ok": False, "error": str(exc)}
        ok = False
    checks["knowledge"] = {"ok": True, "subtypes": len(knowledge.subtypes)}
    checks["index"] = {
        "ok": bool(index.units),
        "articles": len(index.units),
        "laws": len(index.titles()),
    }
    ok = ok and bool(index.units)
    checks["llm"] = _llm_check(settings)
    return JSONResponse(
        {"ready": ok, "warming_up": False, "degraded": not checks["llm"]["ok"], "checks": checks},
        status_code=200 if ok else 503,
    )


#: probes come every few seconds; the model endpoint is asked at most this often
LLM_CHECK_TTL_S = 15.0
_llm_checks: dict[str, tuple[float, dict[str, Any]]] = {}


def _llm_check(settings: Settings) -> dict[str, Any]:
    """The model endpoint when one is configured. A model that is down leaves the service
    ready (every agent falls back to its offline engine) but degraded. The answer is reused
    for LLM_CHECK_TTL_S, so probes do not each hold a worker thread on a slow endpoint."""
    if not settings.llm_configured:
        return {"ok": True, "mode": "offline"}
    url = str(settings.llm_base_url).rstrip("/") + "/models"
    cached = _llm_checks.get(url)
    if cached and time.monotonic() - cached[0] < LLM_CHECK_TTL_S:
        return cached[1]
    status = probe_endpoint(settings, timeout=min(settings.llm_timeout_s, 3.0))
    result: dict[str, Any] = (
        {"ok": True, "mode": "llm", "model": settings.llm_model}
        if status.ok
        else {"ok": False, "mode": "llm", "error": status.error}
    )
    _llm_checks[url] = (time.monotonic(), result)
    return result


@router.get("/api/v1/taxonomy", tags=["knowledge"], response_model=list[CategoryPublic])
def taxonomy(knowledge: KnowledgeDep) -> list[dict[str, Any]]:
    """事件分类：大类及其小类（含时限、默认层级和主办部门类型）。"""
    return [
        {
            "code": c.code,
            "name": c.name,
            "subtypes": [
                {
                    "code": s.code,
                    "name": s.name,
                    "description": s.description,
                    "level": s.level.value,
                    "urgency": s.urgency.value,
                    "lead_type": s.lead.type,
                    "sla_hours": s.sla_hours.model_dump(),
                }
                for s in knowledge.subtypes_of(c.code)
            ],
        }
        for c in knowledge.categories.values()
    ]


@router.get("/api/v1/jurisdictions", tags=["knowledge"], response_model=JurisdictionTreePublic)
def jurisdictions(knowledge: KnowledgeDep) -> dict[str, Any]:
    """辖区树：市 → 区县 → 街道（镇）。"""
    return {
        "code": knowledge.city.code,
        "name": knowledge.city.name,
        "districts": [
            {
                "code": d.code,
                "name": d.name,
                "lat": d.lat,
                "lon": d.lon,
                "streets": [
                    {"code": s.code, "name": s.name, "kind": s.kind, "lat": s.lat, "lon": s.lon}
                    for s in knowledge.streets(d.code)
                ],
            }
            for d in knowledge.districts()
        ],
    }


@router.get("/api/v1/regulations/search", tags=["regulations"])
def regulations_search(
    request: Request,
    index: IndexDep,
    store: StoreDep,
    knowledge: KnowledgeDep,
    dispatcher: DispatcherDep,
    response: Response,
    q: Annotated[str, Query(min_length=1, max_length=500, description="问题")],
    k: Annotated[int, Query(ge=1, le=50)] = 5,
    region: str | None = None,
    level: str | None = None,
    title: str | None = None,
    engine: Annotated[
        Literal["auto", "offline"],
        Query(description="auto：配置了模型时由模型对候选重新排序；offline：只用离线混合检索"),
    ] = "auto",
) -> list[ArticleHit]:
    """法规检索：返回可引用的法规名称、条号和条文。已登录的调用方在配置了模型时由模型对候选
    重新排序；响应头 X-Sanji-Engine 说明由谁排序（llm 或 offline），模型失败时
    X-Sanji-Fallback 说明原因，模型给出的理由在 X-Sanji-Reason。"""
    llm = dispatcher.deps.llm if engine == "auto" else None
    if llm is not None and identify(request, store, knowledge)[1] is None:
        llm = None  # anonymous callers do not spend model calls
    if llm is None:
        response.headers["X-Sanji-Engine"] = "offline"
        return search_regulations(
            index, RegulationQuery(question=q, k=k, region=region, level=level, title=title)
        )
    ranked = regsearch.search(index, q, k=k, llm=llm, region=region, level=level, title=title)
    response.headers["X-Sanji-Engine"] = ranked.engine
    if ranked.fallback:
        response.headers["X-Sanji-Fallback"] = quote(ranked.fallback[:200])
    if ranked.engine == "llm":
        response.headers["X-Sanji-Reason"] = quote(ranked.reason[:200])
        # the model's order: scores count down from k, the offline reasons no longer apply
        return [
            hit_view(h).model_copy(update={"score": float(len(ranked.hits) - n), "why": []})
            for n, h in enumerate(ranked.hits)
        ]
    return [hit_view(h) for h in ranked.hits]


@router.get(
    "/api/v1/regulations/article",
    tags=["regulations"],
    responses=error_response(404, "索引中没有这一条"),
)
def regulations_article(
    index: IndexDep,
    title: Annotated[str, Query(description="法规完整标题")],
    article: Annotated[str, Query(description="条号，如 第二十八条 或 28")],
) -> ArticleHit:
    """按标题和条号精确取条文。"""
    try:
        query = ArticleQuery(title=title, article=article)
    except ValidationError as exc:
        raise HTTPException(
            422, detail=f"条号「{article}」格式不对，应为 第二十八条 或 28"
        ) from exc
    hit = get_article(index, query)
    if hit is None:
        raise HTTPException(404, detail=f"索引中没有《{title}》{article}")
    return hit


@router.get("/api/v1/departments", tags=["knowledge"], response_model=list[DepartmentPublic])
def departments(
    knowledge: KnowledgeDep,
    principal: PrincipalDep,
    jurisdiction: Annotated[str, Query(description="事发地街道或区县编码")],
) -> list[dict[str, Any]]:
    """能承办该地事件的单位（本级及上级、市级单位、公共企业），含权责清单。"""
    if jurisdiction not in knowledge.jurisdictions:
        raise HTTPException(422, detail=f"未知的辖区编码 {jurisdiction}")
    order = {"street": 0, "district": 1, "city": 2, "enterprise": 3}
    serving = [d for d in knowledge.departments.values() if knowledge.serves(d, jurisdiction)]
    serving.sort(key=lambda d: (order.get(d.level.value, 9), d.name))
    return [
        {
            "code": d.code,
            "name": d.name,
            "level": d.level.value,
            "level_zh": d.level.zh,
            "duties": [knowledge.duties[x].text for x in d.duty_ids if x in knowledge.duties],
        }
        for d in serving
    ]


@router.get("/api/v1/return-reasons", tags=["knowledge"], response_model=list[ReturnReasonPublic])
def return_reasons(knowledge: KnowledgeDep) -> list[dict[str, str]]:
    """退单原因代码。"""
    return [
        {"code": r.code, "name": r.name, "description": r.description}
        for r in knowledge.return_reasons.values()
    ]
