"""Server-rendered pages of the officers' console (foundation: the landing page)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from domain.lifecycle import Status
from web.deps import KnowledgeDep, StoreDep

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


@router.get("/", response_class=HTMLResponse)
def home(request: Request, store: StoreDep, knowledge: KnowledgeDep) -> HTMLResponse:
    rows = store.db.fetchall("SELECT status, COUNT(*) AS n FROM events GROUP BY status")
    counts = {r["status"]: r["n"] for r in rows}
    by_status = [(s.zh, counts.get(s.value, 0)) for s in Status]
    return templates.TemplateResponse(
        request,
        "home.html",
        {
            "total": sum(counts.values()),
            "by_status": by_status,
            "districts": len(knowledge.districts()),
            "streets": len(knowledge.streets()),
            "subtypes": len(knowledge.subtypes),
            "departments": len(knowledge.departments),
        },
    )
