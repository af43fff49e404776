"""The server's parts are built in the background after it starts accepting connections (the
first start on a fresh data folder builds the regulation index, a minute or more on a busy
machine): liveness answers at once, readiness reports the step, and routes that need the
parts answer 503 with ``Retry-After`` until they are built.

Two stages become available one after the other: the event store with the knowledge (sign-in,
event lists, the dashboard, the knowledge endpoints) as soon as the store is open and the demo
data is in, then every part (drafting, regulation search, the assistant) when the regulation
index and the classifier are built."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, NoReturn

from fastapi import HTTPException

from agents.runtime import STEPS, Services
from knowledge import Knowledge
from store import EventStore

log = logging.getLogger(__name__)

#: seconds a client is told to wait before asking again while the server warms up
RETRY_AFTER_S = 5


class Startup:
    """The state of the background build: the current step, then the services or the error."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._step = "pending"
        self._detail = ""
        self._started = time.monotonic()
        self._services: Services | None = None
        self._core: tuple[EventStore, Knowledge] | None = None
        self._error: str | None = None
        self._closing = False
        self._thread: threading.Thread | None = None

    def report(self, step: str, detail: str) -> None:
        """A ``build_services`` progress callback."""
        with self._lock:
            self._step, self._detail = step, detail

    def opened(self, store: EventStore, knowledge: Knowledge) -> None:
        """The store is open (and holds the demo data): what needs only the store and the
        knowledge may be served from now on."""
        with self._lock:
            self._core = (store, knowledge)

    @property
    def core(self) -> tuple[EventStore, Knowledge]:
        """The event store and the knowledge, or 503 until the store is open."""
        core = self._core
        if core is not None and self._error is None:
            return core
        self._not_yet("事件库")

    @property
    def services(self) -> Services:
        """The built services, or 503 while they are being built (500 if building failed)."""
        services = self._services
        if services is not None:
            return services
        self._not_yet("法规索引和分类模型")

    def _not_yet(self, part: str) -> NoReturn:
        if self._error is not None:
            raise HTTPException(500, detail=f"服务启动失败：{self._error}")
        label = self.progress()["label"]
        raise HTTPException(
            503,
            detail=f"系统正在启动，{part}还没有准备好（当前：{label}），请稍后再试。",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )

    @property
    def ready(self) -> bool:
        return self._services is not None

    @property
    def failed(self) -> str | None:
        return self._error

    def progress(self) -> dict[str, Any]:
        with self._lock:
            step, detail = self._step, self._detail
        names = list(STEPS)
        return {
            "step": step,
            "label": STEPS.get(step, "正在启动"),
            "detail": detail,
            "steps_done": names.index(step) if step in names else 0,
            "steps": len(names),
            "elapsed_s": round(time.monotonic() - self._started, 1),
        }

    def start(self, build: Callable[[Callable[[str, str], None]], Services]) -> None:
        """Run ``build(progress)`` in a thread; its services become available when it ends."""

        def run() -> None:
            try:
                services = build(self.report)
            except BaseException as exc:
                log.exception("building the services failed")
                with self._lock:
                    self._error = f"{type(exc).__name__}: {exc}"
                return
            with self._lock:
                if not self._closing:
                    self._services = services
                    return
            services.close()  # the server stopped while it was still starting

        self._thread = threading.Thread(target=run, name="sanji-startup", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Close the services if they were built; a build still running closes its own when
        it ends."""
        with self._lock:
            self._closing = True
            services, self._services = self._services, None
        if services is not None:
            services.close()
