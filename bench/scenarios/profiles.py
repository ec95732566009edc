"""Where the time goes, in-process and single-threaded: FastAPI's own cost, churnlens's app
per route, each step of one `POST /v1/score`, the ranked list, and cProfile of a batch run."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends

from harness.inprocess import asgi_call, async_per_call_us, per_call_us
from harness.servers import SCORER_KEY, VIEWER_KEY


def profile_app(home: Path, tracking_uri: str, body: Path | None) -> None:
    """The real app driven in-process (no uvicorn, no sockets): CPU per request of each
    route, so what uvicorn adds and what FastAPI adds can be told apart."""
    import asyncio

    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    from features.settings import Settings, use_settings
    from serving.api import create_app

    settings = Settings(home=home, reload_interval=0,
                        api_keys=f"scorer:{SCORER_KEY},viewer:{VIEWER_KEY}")  # type: ignore[arg-type]
    use_settings(settings)
    app = create_app(settings)

    async def run() -> None:
        async with app.router.lifespan_context(app):
            calls = [("GET /healthz", asgi_call(app, "GET", "/healthz"), 500)]
            if body is not None:
                calls.append(("POST /v1/score, one account", asgi_call(
                    app, "POST", "/v1/score", key=SCORER_KEY, body=body.read_bytes()), 300))
            else:
                calls.append(("GET /v1/accounts?per_page=50", asgi_call(
                    app, "GET", "/v1/accounts", "per_page=50", VIEWER_KEY), 100))
            for label, call, n in calls:
                print(f"  {await async_per_call_us(call, n):8.0f} µs  {label} (whole app "
                      f"in-process: middleware, routing, auth, body, route, response)")

    asyncio.run(run())


def _dep() -> int:
    return 1


def _dep2() -> int:
    return 2


async def _async_dep() -> int:
    return 1


async def _async_route() -> dict[str, str]:
    return {"status": "ok"}


def _sync_route() -> dict[str, str]:
    return {"status": "ok"}


async def _async_route_dep(x: Annotated[int, Depends(_async_dep)]) -> dict[str, str]:
    return {"status": "ok"}


def _sync_route_dep(x: Annotated[int, Depends(_dep)]) -> dict[str, str]:
    return {"status": "ok"}


def _sync_route_2dep(x: Annotated[int, Depends(_dep)],
                     y: Annotated[int, Depends(_dep2)]) -> dict[str, str]:
    return {"status": "ok"}


def profile_framework() -> None:
    """What FastAPI's own machinery costs here: a bare app, one trivial route, variants."""
    import asyncio

    from fastapi import FastAPI, Request

    bare, wrapped = FastAPI(), FastAPI()
    routes: list[tuple[str, Any]] = [("/async", _async_route), ("/async-dep", _async_route_dep),
                                     ("/sync", _sync_route),
                                     ("/sync-dep", _sync_route_dep),
                                     ("/sync-2dep", _sync_route_2dep)]
    for path, route in routes:
        bare.get(path)(route)

    @wrapped.middleware("http")
    async def passthrough(request: Request, call_next: Any) -> Any:
        return await call_next(request)

    wrapped.get("/async")(_async_route)
    variants = [
        ("async def route, no middleware", bare, "/async"),
        ("async def route + async dependency", bare, "/async-dep"),
        ("def route (threadpool: route + response validation)", bare, "/sync"),
        ("def route + one def dependency (3 threadpool hops)", bare, "/sync-dep"),
        ("def route + two def dependencies (4 hops, like /v1/score)", bare, "/sync-2dep"),
        ("async def route + @app.middleware('http') pass-through", wrapped, "/async"),
    ]

    async def run() -> None:
        for label, app, path in variants:
            print(f"  {await async_per_call_us(asgi_call(app, 'GET', path), 500):8.0f} µs  "
                  f"{label}")

    asyncio.run(run())


def profile_score(scratch: Path, tracking_uri: str, body: Path) -> None:
    """Each step of one `POST /v1/score` call timed alone, then cProfile of the scoring."""
    import cProfile
    import pstats

    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    from features.point_in_time.catalog import render_reason
    from features.settings import Settings, use_settings

    use_settings(Settings(home=scratch))
    from serving.api import _score_json
    from serving.auth import KeyRing
    from serving.http.schemas import ScoreBody
    from serving.risk import ScoringRequest, score_requests
    from training.registry import load_version
    from training.tracking import mlflow_client

    model, version = load_version(mlflow_client())
    booster = model.booster
    leaves = max(t["num_leaves"] for t in booster.dump_model()["tree_info"])
    print(f"model v{version}: {booster.num_trees()} trees, up to {leaves} leaves, "
          f"{booster.num_feature()} features")
    raw = body.read_bytes()
    parsed = ScoreBody.model_validate_json(raw)
    ring = KeyRing.from_keys(f"scorer:{SCORER_KEY}")
    requests = [ScoringRequest(a.account_id, a.as_of, a.features) for a in parsed.accounts]
    features = requests[0].features
    matrix = model.contract.encode_records([features])
    explanation = model.explain_matrix(matrix)
    scores = score_requests(model, version, requests)
    top = [r.feature for r in scores[0].reasons]
    steps = [
        ("json.loads + ScoreBody.model_validate (request body)",
         lambda: ScoreBody.model_validate(json.loads(raw))),
        ("KeyRing.role_of (auth: sha256 + compare)", lambda: ring.role_of(SCORER_KEY)),
        ("contract.check_columns(strict=True)",
         lambda: model.contract.check_columns(list(features), strict=True)),
        ("contract.encode_records", lambda: model.contract.encode_records([features])),
        ("model.predict_matrix (raw score + calibration)",
         lambda: model.predict_matrix(matrix)),
        ("booster.predict(raw_score=True) alone",
         lambda: booster.predict(matrix, raw_score=True, num_threads=1)),
        ("model.explain_matrix (TreeSHAP)", lambda: model.explain_matrix(matrix)),
        ("Explanation.by_family", lambda: explanation.by_family(model.contract)),
        (f"render_reason x {len(top)} (the reasons' sentences)",
         lambda: [render_reason(n, features) for n in top]),
        ("score_requests (all of the scoring)", lambda: score_requests(model, version,
                                                                       requests)),
        ("_score_json + json.dumps (response)",
         lambda: json.dumps({"scores": [_score_json(s) for s in scores]})),
    ]
    print("one-account POST /v1/score, each step alone (CPU, median of 5 x 300 calls):")
    for label, fn in steps:
        print(f"  {per_call_us(fn, 300):8.0f} µs  {label}")
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(2_000):
        score_requests(model, version, requests)
    profiler.disable()
    print("cProfile of 2,000 score_requests calls (one account), by own time:")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(14)


def profile_list(ws10k: Path) -> None:
    import cProfile
    import pstats

    from serving.store.ranked_pages import RankedPages, jsonable
    from serving.store.score_store import ListQuery, ScoreStore

    store = ScoreStore(f"sqlite:///{ws10k / 'scores.db'}")
    try:
        query = ListQuery()
        page = store.ranked(query)
        print(f"GET /v1/accounts first page in-process: {len(page.items)} of {page.total:,}")
        print(f"  {per_call_us(lambda: store.ranked(query), 100):8.0f} µs  ScoreStore.ranked")
        print(f"  {per_call_us(lambda: json.dumps(jsonable(page)), 100):8.0f} µs  "
              f"jsonable + json.dumps (response)")
        pages = RankedPages(store)
        pages.json(query)
        print(f"  {per_call_us(lambda: pages.json(query), 300):8.0f} µs  "
              f"RankedPages.json, page already asked for")
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(300):
            json.dumps(jsonable(store.ranked(query)))
        profiler.disable()
        print("cProfile of 300 first pages, by own time:")
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(12)
    finally:
        store.dispose()


def print_batch_profile(path: Path) -> None:
    import pstats

    print("cProfile of `churnlens score` (10,000 accounts), by cumulative time:")
    stats = pstats.Stats(str(path), stream=sys.stdout)
    stats.sort_stats("cumulative").print_stats(r"(features|serving|training)/", 25)
    print("... and by own time:")
    stats.sort_stats("tottime").print_stats(15)
