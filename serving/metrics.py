"""Prometheus metrics of one app: requests by route and status, latencies, scores served,
alerts fired and webhook deliveries.

Each app gets its own registry, so several apps in one process (tests) never collide.
Routes are labelled by their template (`/v1/accounts/{account_id}`), never by the raw
path, so an id cannot blow up the number of series.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.monitoring.verdict import LEVELS
from serving.store.monitoring import Judgement

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
        # The newest judged scoring run (`churnlens monitor`), read from the store per scrape.
        self.verdict = Gauge("churnlens_monitor_verdict", "Verdict of the newest judged "
                             "scoring run: 0 ok, 1 watch, 2 retrain.",
                             ["model_version"], registry=self.registry)
        self.score_psi = Gauge("churnlens_monitor_score_psi", "PSI of the newest judged "
                               "run's scores against the model's reference.",
                               ["model_version"], registry=self.registry)
        self.drifted = Gauge("churnlens_monitor_drifted_features", "Features of the newest "
                             "judged run that drifted beyond their no-drift spread.",
                             ["model_version"], registry=self.registry)
        # Alerts: fired is read from the store per scrape (any process raises them);
        # deliveries are counted by this server's own delivery worker.
        self.alerts_fired = _StoredCounter("churnlens_alerts_fired",
                                           "Alerts raised, by rule and severity.",
                                           ["rule", "severity"])
        self.registry.register(self.alerts_fired)
        self.deliveries = Counter("churnlens_alert_deliveries_total", "Webhook delivery "
                                  "attempts by this server's worker: delivered, failed "
                                  "(to be retried) or dead.", ["result"],
                                  registry=self.registry)
        self.realised_auc = Gauge("churnlens_monitor_realised_roc_auc", "Realised ROC AUC of "
                                  "the newest judged run with resolved renewals.",
                                  ["model_version", "status"], registry=self.registry)

    def install(self, app: FastAPI) -> None:
        """Measure every HTTP request with a plain ASGI middleware.

        Starlette's `@app.middleware("http")` wraps each request in extra tasks and
        streams; on a ~1 ms scoring request that overhead is a large share.
        """
        app.add_middleware(_MeasureRequests, metrics=self)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def count_deliveries(self, delivered: int, failed: int, dead: int) -> None:
        for result, n in (("delivered", delivered), ("failed", failed), ("dead", dead)):
            if n:
                self.deliveries.labels(result).inc(n)

    def render(self, version: str | None, monitoring: Sequence[Judgement] = (),
               fired: Mapping[tuple[str, str], int] | None = None) -> PlainTextResponse:
        """The exposition, with the model serving, the newest judged runs (newest first)
        as gauges and the alerts fired so far by (rule, severity)."""
        self.alerts_fired.values = {tuple(k): n for k, n in (fired or {}).items()}
        self.model_version.clear()
        if version is not None:
            self.model_version.labels(version).set(1)
        for gauge in (self.verdict, self.score_psi, self.drifted, self.realised_auc):
            gauge.clear()
        if monitoring:
            newest = monitoring[0]
            label = newest.run.model_version
            self.verdict.labels(label).set(LEVELS.index(newest.verdict))
            drift = newest.report.get("drift")
            if drift is not None:
                self.score_psi.labels(label).set(drift["score"]["psi"])
                self.drifted.labels(label).set(sum(f["status"] == "drifted"
                                                   for f in drift["features"]))
        realised = next((j for j in monitoring
                         if j.report["realised"]["metrics"].get("roc_auc") is not None), None)
        if realised is not None:
            figures = realised.report["realised"]
            self.realised_auc.labels(realised.run.model_version, figures["status"]).set(
                figures["metrics"]["roc_auc"])
        return PlainTextResponse(generate_latest(self.registry),
                                 media_type=CONTENT_TYPE_LATEST)


class _StoredCounter(Collector):
    """A counter whose values are read from the store (set before each exposition)."""

    def __init__(self, name: str, documentation: str, labels: list[str]) -> None:
        self.name, self.documentation, self.labels = name, documentation, labels
        self.values: dict[tuple[str, ...], int] = {}

    def collect(self) -> Iterable[Metric]:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labels)
        for labels, value in sorted(self.values.items()):
            family.add_metric(list(labels), value)
        yield family


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
