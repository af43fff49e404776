"""The server's parts are built in the background after it starts accepting connections (the
first start on a fresh data folder builds the regulation index, a minute or more on a busy
machine): liveness answers at once, readiness reports the step, and routes that need the
parts answer 503 with ``Retry-After`` until they are built."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from fastapi import HTTPException

from agents.runtime import STEPS, Services

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
        self._error: str | None = None
        self._closing = False
        self._thread: threading.Thread | None = None

    def report(self, step: str, detail: str) -> None:
        """A ``build_services`` progress callback."""
        with self._lock:
            self._step, self._detail = step, detail

    @property
    def services(self) -> Services:
        """The built services, or 503 while they are being built (500 if building failed)."""
        services, error = self._services, self._error
        if services is not None:
            return services
        if error is not None:
            raise HTTPException(500, detail=f"服务启动失败：{error}")
        raise HTTPException(
            503,
            detail="系统正在启动（正在准备法规索引和分类模型），请稍后再试。",
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
