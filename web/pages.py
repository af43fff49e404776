"""The officers' console: one page shell; the pages are ES modules under ``web/static`` that
read the JSON API with the officer's session token (no build step)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
STATIC = Path(__file__).parent / "static"
static = StaticFiles(directory=STATIC)
#: cache-busting tag for the console's files: they change with a release, not while serving
VERSION = max(int(p.stat().st_mtime) for p in STATIC.iterdir())


@router.get("/", response_class=HTMLResponse)
def console(request: Request) -> HTMLResponse:
    """The console shell: sign-in, queue, event detail, assistant, dashboard, review."""
    return templates.TemplateResponse(request, "console.html", {"version": VERSION})
