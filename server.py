"""The HTTP server: ``create_app(settings)`` builds the FastAPI app and imports nothing heavy
until it is called; ``uvicorn --factory server:create_app`` serves it.

The lifespan starts building every part through the wiring root
(``agents.runtime.build_services``) in the background (``api.startup``), so liveness answers
while the regulation index is still being built; the API's routers (``api/``) read the parts
through the dependency aliases in ``api.deps``, which answer 503 until they are ready; the
console's pages come from ``web``.

``create_staged_app`` is what ``sanji serve`` runs: it accepts connections before even those
imports are done (``api.gate``), so ``/healthz`` answers within a second of the process
starting, and builds ``create_app``'s app in a thread."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from settings import Settings, app_version, get_settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from agents.runtime import Opened as Prepare
    from api.gate import StagedApp

log = logging.getLogger(__name__)


def create_staged_app(
    settings: Settings | None = None,
    *,
    prepare: Prepare | None = None,
    factory: Callable[[], FastAPI] | None = None,
) -> StagedApp:
    """The app that answers at once: ``create_app(settings, prepare=prepare)`` (or
    ``factory()``) is imported and built in a thread while liveness and readiness answer."""
    from api.gate import StagedApp

    return StagedApp(factory or (lambda: create_app(settings, prepare=prepare)))


def create_app(settings: Settings | None = None, *, prepare: Prepare | None = None) -> FastAPI:
    """The FastAPI app; its parts are built in the background once it starts. ``prepare``
    is told the store and the knowledge as soon as the store is open: what needs only those
    (sign-in, events, the dashboard) is served from then on."""
    from concurrent.futures import Future, ThreadPoolExecutor

    import anyio.to_thread
    from fastapi import FastAPI

    from agents.runtime import Services, build_services
    from api import errors
    from api.metrics import Metrics, MetricsMiddleware
    from api.routes import ROUTERS
    from api.startup import Startup
    from api.throttle import LoginThrottle
    from web import pages

    settings = settings or get_settings()

    def build(progress: Callable[[str, str], None]) -> Services:
        # the demo data goes in beside the index build (that one embeds in worker
        # processes): the store's endpoints answer when it is in, the rest when all is built
        preparing: list[Future[None]] = []

        def ready_store(store: Any, knowledge: Any) -> None:
            if prepare is not None:
                prepare(store, knowledge)
            startup.opened(store, knowledge)

        def opened(store: Any, knowledge: Any) -> None:
            preparing.append(pool.submit(ready_store, store, knowledge))

        pool = ThreadPoolExecutor(1, thread_name_prefix="sanji-prepare")
        try:
            services = build_services(
                settings, observe=metrics.observe_trace, progress=progress, opened=opened
            )
            try:
                services.warm_up(progress)
                services.chat  # noqa: B018 - built here, not in the first chat request
                services.perception  # noqa: B018 - one per process, rebuilt from the store here
                services.sweep_every(settings.perception_sweep_s)
                for job in preparing:
                    if not job.done():
                        progress("prepare", "")
                    job.result()
            except BaseException:
                services.close()
                raise
        finally:
            pool.shutdown(wait=False)
        log.info(
            "Sanji ready: %d subtypes, %d departments, %d regulation articles, database %s",
            len(services.knowledge.subtypes),
            len(services.knowledge.departments),
            len(services.index.units),
            services.store.db.dialect,
        )
        return services

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        logging.basicConfig(
            level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        logging.getLogger("bm25s").setLevel(max(logging.INFO, logging.getLogger().level))
        # CPU-bound handlers share one interpreter: a few worker threads do more per second
        # than forty contending for the GIL, and queued requests wait in order
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads
        # the parts are built after the server accepts connections: liveness answers at once
        startup.start(build)
        try:
            yield
        finally:
            startup.close()

    metrics = Metrics()
    app = FastAPI(
        title="Sanji 三级 · 城市运行和治理中心智能体", version=app_version(), lifespan=lifespan
    )
    app.state.metrics = metrics
    app.state.settings = settings
    app.state.startup = startup = Startup()
    app.state.login_throttle = LoginThrottle(
        settings.login_failures_per_account,
        settings.login_failures_per_address,
        settings.login_window_s,
    )
    errors.install(app)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    for router in ROUTERS:
        errors.declare_errors(router)
        app.include_router(router)
    app.include_router(pages.router)
    app.mount("/static", pages.static, name="static")
    return app
