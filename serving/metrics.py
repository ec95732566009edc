"""Prometheus metrics of one app: requests by route and status, latencies, scores served.

Each app gets its own registry, so several apps in one process (tests) never collide.
Routes are labelled by their template (`/v1/accounts/{account_id}`), never by the raw
path, so an id cannot blow up the number of series.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

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
        @app.middleware("http")
        async def measure(request: Request,
                          call_next: Callable[[Request], Awaitable[Response]]) -> Response:
            started = time.perf_counter()
            status = 500
            try:
                response = await call_next(request)
                status = response.status_code
                return response
            finally:
                route = request.scope.get("route")
                template = getattr(route, "path", "unmatched")
                self.requests.labels(request.method, template, str(status)).inc()
                self.latency.labels(template).observe(time.perf_counter() - started)

    def render(self, version: str | None) -> PlainTextResponse:
        self.model_version.clear()
        if version is not None:
            self.model_version.labels(version).set(1)
        return PlainTextResponse(generate_latest(self.registry),
                                 media_type=CONTENT_TYPE_LATEST)
