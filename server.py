"""The HTTP server: ``create_app(settings)`` and a module-level ``app`` for ``uvicorn server:app``.

The lifespan builds knowledge → store and puts them on ``app.state``; routers read them
through the dependency aliases in ``api.deps``; the console comes from ``web``."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import anyio.to_thread
from fastapi import FastAPI

from agents.chat import ChatAssistant
from agents.checkpoint import close_checkpointer, open_checkpointer
from agents.classifier import ensure_classifier, zero_shot
from agents.deps import AgentDeps
from agents.dispatch import Dispatcher
from agents.llm import build_llm
from api import errors
from api.metrics import Metrics, MetricsMiddleware
from api.routes import ROUTERS
from knowledge import Knowledge, load_knowledge
from knowledge.regindex import RegulationIndex, open_ready_index
from settings import Settings, get_settings
from store import EventStore
from web import pages

log = logging.getLogger(__name__)
VERSION = "0.1.0"


def warm_up(knowledge: Knowledge, index: RegulationIndex) -> None:
    """Build the lazy parts (label embeddings of the zero-shot path, the lexical index) before
    the first request rather than during it."""
    started = time.perf_counter()
    zero_shot(knowledge, "预热")
    index.search("预热", k=1)
    log.info("warmed up in %.1f s", time.perf_counter() - started)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        logging.basicConfig(
            level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        logging.getLogger("bm25s").setLevel(max(logging.INFO, logging.getLogger().level))
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        knowledge = load_knowledge()
        store = EventStore.open(settings.resolved_database_url, knowledge.store_rules)
        index = open_ready_index(
            settings.data_dir,
            settings.resolved_chroma_path,
            str(settings.chroma_url) if settings.chroma_url else None,
        )
        classifier = ensure_classifier(knowledge, settings.data_dir / "models")
        deps = AgentDeps(
            store, knowledge, index, classifier, lambda: datetime.now(UTC), llm=build_llm(settings)
        )
        checkpointer = open_checkpointer(settings.resolved_database_url, settings.data_dir)
        warm_up(knowledge, index)
        # CPU-bound handlers share one interpreter: a few worker threads do more per second
        # than forty contending for the GIL, and queued requests wait in order
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads
        app.state.index = index
        app.state.settings = settings
        app.state.knowledge = knowledge
        app.state.store = store
        app.state.deps = deps
        app.state.checkpointer = checkpointer
        app.state.dispatcher = Dispatcher(deps, checkpointer, observe=metrics.observe_trace)
        app.state.chat = ChatAssistant(deps, checkpointer, app.state.dispatcher)
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
            close_checkpointer(checkpointer)
            store.close()

    metrics = Metrics()
    app = FastAPI(title="Sanji 三级 · 城市运行和治理中心智能体", version=VERSION, lifespan=lifespan)
    app.state.metrics = metrics
    errors.install(app)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(pages.router)
    app.mount("/static", pages.static, name="static")
    return app


app = create_app(get_settings())
