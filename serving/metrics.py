"""Prometheus metrics of one app: requests by route and status, latencies, scores served.

Each app gets its own registry, so several apps in one process (tests) never collide.
Routes are labelled by their template (`/v1/accounts/{account_id}`), never by the raw
path, so an id cannot blow up the number of series.
"""

from __future__ import annotations

import time

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("churnlens_http_requests_total", "HTTP requests.",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("churnlens_http_request_seconds", "Request latency.",
                                 ["route"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.scores_served = Counter("churnlens_scores_served_total",
                                     "Accounts scored through POST /v1/score.",
                                     registry=self.registry)
        self.model_version = Gauge("churnlens_model_info", "The model version serving (1).",
                                   ["version"], registry=self.registry)

    def install(self, app: FastAPI) -> None:
        """Measure every HTTP request with a plain ASGI middleware.

        Starlette's `@app.middleware("http")` wraps each request in extra tasks and
        streams; on a ~1 ms scoring request that overhead is a large share.
        """
        app.add_middleware(_MeasureRequests, metrics=self)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def render(self, version: str | None) -> PlainTextResponse:
        self.model_version.clear()
        if version is not None:
            self.model_version.labels(version).set(1)
        return PlainTextResponse(generate_latest(self.registry),
                                 media_type=CONTENT_TYPE_LATEST)


class _MeasureRequests:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.observe(scope["method"], route, status,
                                 time.perf_counter() - started)
