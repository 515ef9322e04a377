"""Prometheus metrics: the series ``vendzz-migrate provision``'s alert rules query.

``http_requests_total{method,route,status_code}`` and the histogram
``http_request_duration_seconds{method,route,status_code}`` (prom-client's names and labels, as
the Node service exports them), plus a few gauges of our own.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.routing import BaseRoute, Match

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0, 10.0)
LABELS = ("method", "route", "status_code")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total", "HTTP requests answered.", LABELS, registry=self.registry
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "HTTP request duration.",
            LABELS,
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.writes_in_flight = Gauge(
            "vendzz_writes_in_flight", "Write requests executing.", registry=self.registry
        )
        self.maintenance = Gauge(
            "vendzz_maintenance", "1 while maintenance mode is on.", registry=self.registry
        )
        self.cache = Counter(
            "vendzz_cache_requests_total",
            "Quiz cache look-ups.",
            ("result",),
            registry=self.registry,
        )
        self.pool_in_use = Gauge(
            "vendzz_db_pool_connections_in_use",
            "Database pool connections checked out.",
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        labels = (method, route, str(status))
        self.requests.labels(*labels).inc()
        self.duration.labels(*labels).observe(seconds)


def route_of(routes: Sequence[BaseRoute], scope: Scope) -> str:
    """The route template (``/api/quizzes/{id}``), so ids never become label values."""
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return str(getattr(route, "path", "unknown"))
    return "unmatched"


class MetricsMiddleware:
    """Times every HTTP request and counts it by method, route and status code."""

    def __init__(self, app: ASGIApp, metrics: Metrics, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.observe(
                scope["method"], route_of(self.routes, scope), status, time.perf_counter() - start
            )
