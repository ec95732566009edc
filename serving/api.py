"""The churnlens HTTP API: scores for apps, ranked lists and account detail for people.

The model is loaded in the lifespan and swapped whole on reload (admin call or when the
champion alias moves), the score store is opened once, and every error is a 4xx whose
message says what to fix; an unexpected failure is logged and answered with a plain 500
that leaks nothing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import sys
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse

from features.errors import ChurnlensError
from features.settings import Settings, get_settings
from serving.alerts.book import AlertBook
from serving.alerts.delivery import BackgroundDelivery, Tally
from serving.alerts.rules import WatchedRules
from serving.auth import KeyRing, Principal, Role, require
from serving.http.alert_routes import install_alert_api
from serving.http.errors import error_responses
from serving.http.limits import BodyLimit
from serving.http.openapi import install_openapi
from serving.http.schemas import (
    MAX_BODY_BYTES,
    AccountOut,
    ReadyOut,
    ScoreBody,
    ScoreResponse,
)
from serving.metrics import Metrics
from serving.model_holder import LoadedModel, ModelHolder, registry_loader
from serving.risk import Bands, RiskScore, ScoringRequest, score_requests
from serving.store.audit import AuditEvent, AuditLog
from serving.store.models import MAX_PAGE, ScoreStoreError
from serving.store.ranked_pages import RankedPages, jsonable
from serving.store.score_store import ListQuery, ScoreStore
from serving.web.alert_pages import install_alert_pages
from serving.web.routes import install_web
from training.contract import FeatureContract

log = logging.getLogger(__name__)

SWITCH_INTERVAL = 0.0005  # seconds; see the lifespan
MONITORED_RUNS = 24  # judged runs /metrics reads for its monitoring gauges
class ModelNotReadyError(ChurnlensError):
    http_status = 503


class AccountNotFoundError(ChurnlensError):
    http_status = 404


async def loaded(request: Request) -> LoadedModel:
    """The model serving now; requests keep it to the end even if a reload swaps it.

    async, like the score route: both only compute (about a millisecond), and a plain
    def would hand each request to a worker thread and back, costing more than that.
    """
    current: LoadedModel | None = request.app.state.holder.current
    if current is None:
        raise ModelNotReadyError(
            "No model is loaded yet: train and promote one (`churnlens train`), then "
            f"POST /v1/admin/reload. Last error: {request.app.state.holder.last_error}")
    return current


Loaded = Annotated[LoadedModel, Depends(loaded)]


def create_app(settings: Settings | None = None, holder: ModelHolder | None = None,
               store: ScoreStore | None = None, keyring: KeyRing | None = None,
               deliver: bool = True) -> FastAPI:
    """The app; tests pass their own holder, store and keys, production reads settings.
    With `deliver`, a delivery worker in the background sends the webhooks of the
    endpoints the alert rules name, as the rules file says at each round."""
    settings = settings or get_settings()
    bands = Bands(high=settings.band_high, medium=settings.band_medium)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.keyring = keyring if keyring is not None else KeyRing.from_settings(settings)
        app.state.store = store if store is not None else ScoreStore(settings.score_store)
        app.state.pages = RankedPages(app.state.store)
        if holder is not None:
            app.state.holder = holder
        else:
            load, probe = registry_loader()
            app.state.holder = ModelHolder(load, probe)
        if app.state.holder.current is None:
            await asyncio.to_thread(app.state.holder.reload)
        # Pages not yet worked out are read one at a time: several threads doing so at
        # once take turns at the interpreter lock with the event loop and stall it ...
        app.state.reader = concurrent.futures.ThreadPoolExecutor(1, "store-reader")
        # ... and the lock changes hands every 0.5 ms instead of every 5 ms, so the event
        # loop never waits long on a thread's turn.
        switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL)
        poller = None
        if settings.reload_interval > 0:
            poller = asyncio.create_task(_poll(app.state.holder, settings.reload_interval))
        delivery = _delivery(settings, app.state.store, metrics) if deliver else None
        try:
            yield
        finally:
            if delivery is not None:
                await asyncio.to_thread(delivery.stop)
            if poller is not None:
                poller.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await poller
            app.state.reader.shutdown(wait=True)
            sys.setswitchinterval(switch_interval)
            if store is None:
                app.state.store.dispose()

    app = FastAPI(
        title="churnlens",
        version="1",
        summary="Calibrated renewal-risk scores with reasons for B2B SaaS accounts.",
        lifespan=lifespan,
    )
    metrics = Metrics()
    app.state.metrics = metrics
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)  # inside the metrics: 413s count
    metrics.install(app)
    _install_error_handlers(app)
    install_web(app, settings)
    install_alert_pages(app)
    install_alert_api(app)
    install_openapi(app, lambda: _serving(app))

    # Documented, not validated per response: `test_api` checks real responses against it.
    @app.post("/v1/score", tags=["scores"], responses={
        200: {"model": ScoreResponse}, **error_responses(400, 401, 403, 413, 422, 503)})
    async def score(body: ScoreBody, model: Loaded,
              who: Annotated[Principal, Depends(require(Role.scorer))]) -> dict[str, Any]:
        """Score 1-1,000 accounts from caller-supplied features, with reasons."""
        requests = [ScoringRequest(a.account_id, a.as_of, a.features) for a in body.accounts]
        scores = score_requests(model.model, model.version, requests, bands)
        metrics.scores_served.inc(len(scores))
        return {"model": {"name": "churnlens", "version": model.version},
                "scores": [_score_json(s) for s in scores]}

    @app.get("/v1/accounts", tags=["accounts"],
             responses=error_responses(401, 403, 422, 503))
    async def accounts(
        request: Request,
        who: Annotated[Principal, Depends(require(Role.viewer))],
        sort: Literal["risk", "arr_at_risk"] = "risk",
        csm_owner: str | None = None,
        segment: str | None = None,
        band: Literal["high", "medium", "low"] | None = None,
        renewal_within_days: Annotated[int | None, Query(ge=0, le=3660)] = None,
        page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
        per_page: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> dict[str, Any]:
        """The latest scoring run's accounts, ranked and filtered, one page at a time; a
        book key's list holds only its CSMs' accounts."""
        query = ListQuery(sort=sort, csm_owner=csm_owner, segment=segment, band=band,
                          renewal_within_days=renewal_within_days, page=page,
                          per_page=per_page, scope=who.scope)
        pages: RankedPages = request.app.state.pages
        # A page already worked out is answered here; the store is read in a worker thread.
        body = pages.remembered(query) or await asyncio.get_running_loop().run_in_executor(
            request.app.state.reader, pages.json, query)
        return Response(body, media_type="application/json")  # type: ignore[return-value]

    @app.get("/v1/accounts/{account_id}", tags=["accounts"],
             responses={200: {"model": AccountOut},
                        **error_responses(401, 403, 404, 422, 503)})
    def account(request: Request, account_id: Annotated[str, Path(max_length=200)],
                who: Annotated[Principal, Depends(require(Role.viewer))]) -> dict[str, Any]:
        """The account's latest stored score with reasons, and its score history.

        An account outside the key's book is a 404 like an unknown one, so a book key
        cannot learn which accounts exist.
        """
        found = request.app.state.store.account(account_id)
        if found is None or not who.sees(found.latest.csm_owner):
            raise AccountNotFoundError(
                f"No stored score for account {account_id!r}. Check the id, or run "
                f"`churnlens score` if the account is new.")
        return jsonable(found)

    @app.get("/v1/model", tags=["model"], responses=error_responses(401, 403, 503))
    def model_info(model: Loaded,
                   who: Annotated[Principal, Depends(require(Role.viewer))]) -> dict[str, Any]:
        """The model serving now: version, training window, key metrics and features."""
        meta = model.model.metadata
        return {
            "name": "churnlens",
            "version": model.version,
            "alias": "champion",
            "loaded_at": model.loaded_at.isoformat(),
            "trained_at": meta.get("trained_at"),
            "training_window": {"train_labels_known_by": meta.get("train_end"),
                                "test_start": meta.get("test_start"),
                                "test_end": meta.get("test_end")},
            "metrics": meta.get("metrics", {}),
            "catalog_version": model.model.catalog_version,
            "features": [{"name": n, "family": model.model.contract.families.get(n, "other"),
                          "categories": list(model.model.contract.categories.get(n, ())) or None,
                          "nullable": model.model.contract.nullable is None
                          or n in model.model.contract.nullable}
                         for n in model.model.contract.names],
            "risk_bands": {"high": bands.high, "medium": bands.medium},
        }

    @app.post("/v1/admin/reload", tags=["admin"],
              responses=error_responses(401, 403, 409))
    async def reload(request: Request,
                     who: Annotated[Principal, Depends(require(Role.admin))]
                     ) -> dict[str, Any]:
        """Load the champion now; on failure the old model keeps serving (409)."""
        holder: ModelHolder = request.app.state.holder
        before = holder.current.version if holder.current else None
        await asyncio.to_thread(holder.reload)
        after = holder.current.version if holder.current else None
        await asyncio.to_thread(AuditLog(request.app.state.store).record, AuditEvent(
            "reload", "failed" if holder.last_error else "ok", who.key_id, who.role.value,
            who.label, f"version {before} -> {after}",
            request.client.host if request.client else ""))
        if holder.last_error:
            return JSONResponse(status_code=409, content={
                "detail": f"Reload failed; still serving version {before}: "
                          f"{holder.last_error}"})  # type: ignore[return-value]
        return {"version": holder.current.version if holder.current else None,
                "previous": before}

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], responses={
        200: {"model": ReadyOut}, 503: {"model": ReadyOut, "description": "Not ready."}})
    def readyz(request: Request) -> JSONResponse:
        """Ready when a model is loaded and the score store answers."""
        holder: ModelHolder = request.app.state.holder
        store_ok = request.app.state.store.ping()
        ready = holder.current is not None and store_ok
        body = {"ready": ready,
                "model_version": holder.current.version if holder.current else None,
                "store": "ok" if store_ok else "unreachable",
                "last_reload_error": holder.last_error}
        return JSONResponse(status_code=200 if ready else 503, content=body)

    @app.get("/v1/monitoring", tags=["model"],
             responses=error_responses(401, 403, 422, 503))
    def monitoring(request: Request,
                   who: Annotated[Principal, Depends(require(Role.admin))],
                   runs: Annotated[int, Query(ge=1, le=100)] = 12) -> dict[str, Any]:
        """The newest judged scoring runs, newest first: verdict and reasons, drift against
        the model's reference profile, realised performance (`churnlens monitor`)."""
        found = request.app.state.store.monitoring.judgements(runs)
        return {"runs": [{"run_id": j.run.id, "as_of": j.run.as_of.isoformat(),
                          "model_version": j.run.model_version,
                          "computed_at": j.computed_at.isoformat(), **j.report}
                         for j in found]}

    @app.get("/metrics", tags=["ops"], response_class=PlainTextResponse)
    def prometheus(request: Request) -> PlainTextResponse:
        """Prometheus metrics: requests, latencies, scores served, model version, the
        newest judged run's verdict, score PSI, drifted features and realised ROC AUC,
        alerts fired and webhook deliveries."""
        current = request.app.state.holder.current
        try:
            judged = request.app.state.store.monitoring.judgements(MONITORED_RUNS)
        except ScoreStoreError as exc:
            log.warning("metrics without monitoring gauges: %s", exc)
            judged = []
        try:
            fired = AlertBook(request.app.state.store).fired()
        except ScoreStoreError as exc:
            log.warning("metrics without alert counts: %s", exc)
            fired = {}
        return metrics.render(current.version if current else None, judged, fired)

    return app


def _serving(app: FastAPI) -> tuple[str, FeatureContract] | None:
    holder: ModelHolder | None = getattr(app.state, "holder", None)
    current = holder.current if holder is not None else None
    return (current.version, current.model.contract) if current is not None else None


def _delivery(settings: Settings, store: ScoreStore, metrics: Metrics) -> BackgroundDelivery:
    """The webhook worker. It reads the alert rules every round (`WatchedRules`), so
    endpoints added later are served without a restart; a bad file only logs
    (`churnlens alerts rules` says what to fix) and the service serves on."""
    rules = WatchedRules(settings.home)
    config = rules()

    def observe(tally: Tally) -> None:
        metrics.count_deliveries(tally.delivered, tally.retried, tally.dead)

    worker = BackgroundDelivery(store, rules, observe=observe)
    worker.start()
    log.info("delivering alert webhooks in the background: %d endpoint(s) now; "
             "alerts.yaml is re-read when it changes",
             len(config.endpoints) if config is not None else 0)
    return worker


async def _poll(holder: ModelHolder, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        await asyncio.to_thread(holder.poll)


def _score_json(score: RiskScore) -> dict[str, Any]:
    return {
        "account_id": score.account_id,
        "as_of": score.as_of.isoformat(),
        "probability": score.probability,
        "band": score.band,
        "model": {"name": score.model_name, "version": score.model_version},
        "reasons": [asdict(r) for r in score.reasons],
        "families": dict(score.families),
    }


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ChurnlensError)
    async def churnlens_error(request: Request, exc: ChurnlensError) -> JSONResponse:
        return JSONResponse(status_code=exc.http_status, content={"detail": exc.message},
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"where": ".".join(str(p) for p in err["loc"]), "problem": err["msg"]}
            for err in exc.errors()
        ]
        summary = "; ".join(f"{p['where']}: {p['problem']}" for p in problems[:5])
        return JSONResponse(status_code=422, content={
            "detail": f"Invalid request: {summary}. See /docs for the expected shape.",
            "problems": problems})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(status_code=500, content={
            "detail": "Internal error; it has been logged. Please report it."})
