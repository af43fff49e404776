"""The HTTP server: ``create_app(settings)`` and a module-level ``app`` for ``uvicorn server:app``.

The lifespan builds knowledge → store and puts them on ``app.state``; routers read them
through the dependency aliases in ``web.deps``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from knowledge import load_knowledge
from knowledge.regindex import open_ready_index
from settings import Settings, get_settings
from store import EventStore
from web import api, pages

log = logging.getLogger(__name__)
VERSION = "0.1.0"


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        logging.basicConfig(
            level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        knowledge = load_knowledge()
        store = EventStore.open(settings.resolved_database_url, knowledge)
        index = open_ready_index(
            settings.data_dir,
            settings.resolved_chroma_path,
            str(settings.chroma_url) if settings.chroma_url else None,
        )
        app.state.index = index
        app.state.settings = settings
        app.state.knowledge = knowledge
        app.state.store = store
        log.info(
            "Sanji ready: %d subtypes, %d departments, %d regulation articles, database %s",
            len(knowledge.subtypes),
            len(knowledge.departments),
            len(index.units),
            store.db.dialect,
        )
        try:
            yield
        finally:
            store.close()

    app = FastAPI(title="Sanji 三级 · 城市运行和治理中心智能体", version=VERSION, lifespan=lifespan)
    app.include_router(api.router)
    app.include_router(pages.router)
    return app


app = create_app(get_settings())
