"""Prometheus metrics: HTTP requests and latency by route, and what the agents did (runs per
engine, fallbacks, model calls and tokens). One registry per app, served at ``/metrics``
(``api.routes.metrics``)."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "sanji_http_requests", "HTTP requests", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "sanji_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.agent_runs = Counter(
            "sanji_agent_runs", "Agent node runs by engine", ["agent", "engine"], registry=r
        )
        self.fallbacks = Counter(
            "sanji_agent_fallbacks",
            "Agent fallbacks (model failed, low confidence…)",
            ["agent"],
            registry=r,
        )
        self.llm_calls = Counter("sanji_llm_calls", "Calls to the language model", registry=r)
        self.llm_tokens = Counter("sanji_llm_tokens", "Language-model tokens", ["kind"], registry=r)

    def observe_trace(self, trace: list[dict[str, Any]]) -> None:
        for entry in trace:
            agent = str(entry.get("agent", "?"))
            self.agent_runs.labels(agent, str(entry.get("engine", "?"))).inc()
            if entry.get("fallbacks"):
                self.fallbacks.labels(agent).inc(len(entry["fallbacks"]))
            if entry.get("llm_calls"):
                self.llm_calls.inc(entry["llm_calls"])
                self.llm_tokens.labels("prompt").inc(entry.get("prompt_tokens", 0))
                self.llm_tokens.labels("completion").inc(entry.get("completion_tokens", 0))


class MetricsMiddleware:
    """Counts every HTTP request by its route template (not the raw path: ids would explode
    the label set)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            route = scope.get("route")
            name = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(scope["method"], name, str(status)).inc()
            self.metrics.latency.labels(scope["method"], name).observe(
                time.perf_counter() - started
            )
