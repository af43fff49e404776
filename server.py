"""The HTTP server: ``create_app(settings)`` builds the FastAPI app and imports nothing heavy
until it is called; ``uvicorn --factory server:create_app`` serves it.

The lifespan builds every part through the wiring root (``agents.runtime.build_services``) and
puts it on ``app.state``; the API's routers (``api/``) read them through the dependency aliases
in ``api.deps``; the console's pages come from ``web``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from settings import Settings, app_version, get_settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    import anyio.to_thread

    from agents.runtime import build_services
    from api import errors
    from api.metrics import Metrics, MetricsMiddleware
    from api.routes import ROUTERS
    from web import pages

    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        logging.basicConfig(
            level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        logging.getLogger("bm25s").setLevel(max(logging.INFO, logging.getLogger().level))
        services = build_services(settings, observe=metrics.observe_trace)
        services.warm_up()
        # CPU-bound handlers share one interpreter: a few worker threads do more per second
        # than forty contending for the GIL, and queued requests wait in order
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads
        app.state.services = services
        app.state.settings = settings
        app.state.knowledge = services.knowledge
        app.state.store = services.store
        app.state.index = services.index
        app.state.deps = services.deps
        app.state.checkpointer = services.checkpointer
        app.state.dispatcher = services.dispatcher
        app.state.chat = services.chat
        log.info(
            "Sanji ready: %d subtypes, %d departments, %d regulation articles, database %s",
            len(services.knowledge.subtypes),
            len(services.knowledge.departments),
            len(services.index.units),
            services.store.db.dialect,
        )
        try:
            yield
        finally:
            services.close()

    metrics = Metrics()
    app = FastAPI(
        title="Sanji 三级 · 城市运行和治理中心智能体", version=app_version(), lifespan=lifespan
    )
    app.state.metrics = metrics
    errors.install(app)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    for router in ROUTERS:
        errors.declare_errors(router)
        app.include_router(router)
    app.include_router(pages.router)
    app.mount("/static", pages.static, name="static")
    return app
