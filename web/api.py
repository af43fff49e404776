"""JSON API (foundation part): health, readiness and the knowledge the console needs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from store.schema import schema_version
from web.deps import KnowledgeDep, SettingsDep, StoreDep

router = APIRouter()


@router.get("/healthz", tags=["health"])
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", tags=["health"])
def readyz(store: StoreDep, knowledge: KnowledgeDep, settings: SettingsDep) -> JSONResponse:
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
    checks["llm"] = {"ok": True, "mode": "llm" if settings.llm_configured else "offline"}
    return JSONResponse({"ready": ok, "checks": checks}, status_code=200 if ok else 503)


@router.get("/api/v1/taxonomy", tags=["knowledge"])
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


@router.get("/api/v1/jurisdictions", tags=["knowledge"])
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
