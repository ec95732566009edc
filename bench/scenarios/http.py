"""The HTTP load phases: `POST /v1/score` on churnlens (one worker, then two), the same
model behind `mlflow models serve`, and `GET /v1/accounts` on a 10,000-account run. Each
phase starts its server, checks one answer, warms up, measures, and stops the server."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

from harness.servers import (
    SCORER_KEY,
    VIEWER_KEY,
    base_url,
    churnlens_server,
    http,
    mlflow_server,
)
from harness.wrk import Load, wrk
from scenarios.workspace import check_mlflow, check_score


def score_phase(scratch: Path, tracking: str, body: Path, seconds: float, short: float,
                loads: dict[str, Load]) -> float:
    """One worker: one client, then eight for `seconds`; returns the probability it gave."""
    with churnlens_server(scratch, tracking, scratch, "churnlens serve") as server:
        probability = check_score(server, body)
        wrk("warm-up", server, "/v1/score", SCORER_KEY, 8, 5, scratch, body, True)
        loads["score c1"] = wrk("score c1", server, "/v1/score", SCORER_KEY, 1, short,
                                scratch, body)
        loads["score c8"] = wrk("score c8", server, "/v1/score", SCORER_KEY, 8, seconds,
                                scratch, body)
        loads["healthz c1"] = wrk("GET /healthz c1 (the framework's floor)", server,
                                  "/healthz", "", 1, 10, scratch)
        print(f"  server RSS after the runs: {server.rss():.0f} MiB")
    return probability


def mlflow_phase(scratch: Path, tracking: str, body: Path, short: float,
                 loads: dict[str, Load], p_churnlens: float) -> None:
    """The champion behind `mlflow models serve`, checked to give the same probability."""
    with mlflow_server(tracking, scratch) as server:
        p_mlflow = check_mlflow(server, body)
        print(f"  same probability as churnlens: {abs(p_mlflow - p_churnlens) < 1e-9} "
              f"({p_mlflow:.6f} vs {p_churnlens:.6f})")
        wrk("warm-up", server, "/invocations", "", 8, 3, scratch, body, True)
        loads["mlflow c1"] = wrk("mlflow c1", server, "/invocations", "", 1, short,
                                 scratch, body)
        loads["mlflow c8"] = wrk("mlflow c8", server, "/invocations", "", 8, short,
                                 scratch, body)
        print(f"  server RSS after the runs: {server.rss():.0f} MiB")


def workers_phase(scratch: Path, tracking: str, body: Path, short: float,
                  loads: dict[str, Load]) -> None:
    """`--workers 2`, not the default, for comparison."""
    with churnlens_server(scratch, tracking, scratch, "churnlens serve --workers 2",
                          workers=2) as server:
        check_score(server, body)
        wrk("warm-up", server, "/v1/score", SCORER_KEY, 8, 5, scratch, body, True)
        loads["score c8 w2"] = wrk("score c8, 2 workers", server, "/v1/score", SCORER_KEY,
                                   8, short, scratch, body)


def list_phase(ws10k: Path, tracking: str, scratch: Path, short: float,
               loads: dict[str, Load]) -> None:
    """The first page of the ranked list, then many CSMs browsing their books."""
    with churnlens_server(ws10k, tracking, scratch, "churnlens serve (10k)") as server:
        status, raw = http("GET", f"{base_url(server)}/v1/accounts?per_page=50",
                           key=VIEWER_KEY)
        page = json.loads(raw)
        print(f"  {status}: {len(page['items'])} of {page['total']:,} accounts, "
              f"{len(raw):,} bytes, first delta {page['items'][0].get('delta')}")
        path = "/v1/accounts?per_page=50"
        wrk("warm-up", server, path, VIEWER_KEY, 8, 3, scratch, quiet=True)
        loads["list c1"] = wrk("accounts c1", server, path, VIEWER_KEY, 1, short, scratch)
        loads["list c8"] = wrk("accounts c8", server, path, VIEWER_KEY, 8, short, scratch)
        loads["list arr c1"] = wrk("accounts sort=arr_at_risk c1", server,
                                   path + "&sort=arr_at_risk", VIEWER_KEY, 1, 10, scratch)
        # Each owner (or all), both sorts, all or high risk, pages 1-3, picked at random; a
        # page's first visit is worked out by the store, later ones come from the
        # remembered pages.
        owners = sorted({a["csm_owner"] for a in page["items"]})
        varied = [f"/v1/accounts?per_page=50&page={n}&sort={sort}{band}{owner}"
                  for n in (1, 2, 3) for sort in ("risk", "arr_at_risk")
                  for band in ("", "&band=high")
                  for owner in ["", *(f"&csm_owner={quote(o)}" for o in owners)]]
        loads["list varied c8"] = wrk(f"accounts, {len(varied)} varied pages, c8", server,
                                      path, VIEWER_KEY, 8, short, scratch, paths=varied)
