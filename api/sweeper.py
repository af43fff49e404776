"""The server's timer for automatic supervision: every few minutes, raise the 督办 steps that
overdue orders have reached (``agents.oversight.sweep_overdue``; idempotent, so several
replicas sweeping at once raise each step once)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool

from agents.oversight import sweep_overdue
from api.startup import Startup

log = logging.getLogger(__name__)


def sweep_once(startup: Startup) -> int:
    """One sweep, if the store is open; the number of steps raised."""
    try:
        store, knowledge = startup.core
    except Exception:  # still starting: the next tick tries again
        return 0
    raised = sweep_overdue(store, knowledge, datetime.now(UTC))
    if raised:
        log.info("automatic supervision: %d step(s) raised", len(raised))
    return len(raised)


async def sweep_periodically(startup: Startup, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            await run_in_threadpool(sweep_once, startup)
        except Exception:
            log.exception("automatic supervision sweep failed; retrying at the next tick")
