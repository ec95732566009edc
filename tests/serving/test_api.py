"""The HTTP API through TestClient: every endpoint, the key/role matrix, bad input, reload."""

from __future__ import annotations

import math
import threading

import numpy as np
import pandas as pd
import pytest
from api_keys import KEYS, auth
from fastapi.testclient import TestClient

from features.point_in_time.signals import CONTEXT, signal_of
from serving.api import create_app
from serving.auth import KeyRing
from serving.batch import run_batch
from serving.http.schemas import AccountOut, ScoreResponse
from serving.model_holder import ModelHolder
from serving.risk import Bands
from serving.store.score_store import ScoreStore

pytestmark = pytest.mark.slow


@pytest.fixture
def keyring() -> KeyRing:
    return KeyRing.from_keys(",".join(f"{role}:{key}" for role, key in KEYS.items()))


@pytest.fixture
def make_client(trained_model, keyring, isolated_settings):
    """Build TestClients around the trained model (version "1") and a given store."""
    clients: list[TestClient] = []

    def _make(store, holder: ModelHolder | None = None) -> TestClient:
        holder = holder or ModelHolder(lambda: (trained_model, "1"))
        settings = isolated_settings.model_copy(update={"reload_interval": 0})
        client = TestClient(create_app(settings, holder=holder, store=store,
                                       keyring=keyring))
        client.__enter__()
        clients.append(client)
        return client

    yield _make
    for client in clients:
        client.__exit__(None, None, None)


def _payload(frame: pd.DataFrame, model, rows: int = 3) -> tuple[dict, pd.DataFrame]:
    picked = frame.iloc[-rows:]
    names = list(model.contract.names)
    accounts = []
    for _, row in picked.iterrows():
        features = {}
        for name in names:
            value = row[name]
            features[name] = None if pd.isna(value) else (
                str(value) if isinstance(frame[name].dtype, pd.CategoricalDtype)
                else float(value))
        accounts.append({"account_id": row["account_id"], "as_of": "2025-06-01",
                         "features": features})
    return {"accounts": accounts}, picked


@pytest.fixture
def store(tmp_path, simulated_sources, trained_model):
    store = ScoreStore(f"sqlite:///{tmp_path / 'scores.db'}")
    run_batch(simulated_sources, trained_model, "1", store, None, Bands())
    yield store
    store.dispose()


@pytest.fixture
def client(make_client, store):
    return make_client(store)


def test_score_returns_the_models_probabilities_with_reasons(client, simulated_set,
                                                             trained_model):
    frame, _, _ = simulated_set
    body, rows = _payload(frame, trained_model)
    response = client.post("/v1/score", json=body, headers=auth("scorer"))
    assert response.status_code == 200, response.text
    ScoreResponse.model_validate(response.json())  # what the OpenAPI document declares
    scores = response.json()["scores"]
    expected = trained_model.predict_proba(rows)
    np.testing.assert_allclose([s["probability"] for s in scores], expected, rtol=1e-9)
    raw = trained_model.raw_score(trained_model.contract.encode(rows))
    explanation = trained_model.explain(rows)
    bias = explanation.bias
    names = trained_model.contract.names
    for i, (score, r, b) in enumerate(zip(scores, raw, bias, strict=True)):
        # A reason's contribution is its signal's whole push, voiced by the feature that
        # pushed most within it.
        for reason in score["reasons"]:
            mine = [k for k, n in enumerate(names) if signal_of(n) == reason["signal"]]
            pushes = explanation.contributions[i][mine]
            assert math.isclose(reason["contribution"], float(pushes.sum()), rel_tol=1e-9)
            assert names[mine[int(np.argmax(pushes))]] == reason["feature"]
        assert score["model"] == {"name": "churnlens", "version": "1"}
        assert score["band"] in {"high", "medium", "low"}
        contributions = [reason["contribution"] for reason in score["reasons"]]
        assert all(c > 0 for c in contributions)
        # One reason per signal; what a CSM can act on first, then context, each group
        # by contribution, largest first.
        signals = [r["signal"] for r in score["reasons"]]
        assert len(set(signals)) == len(signals) and all(signals)
        acting = [not r["context"] for r in score["reasons"]]
        assert acting == sorted(acting, reverse=True)
        assert all(r["context"] == (r["signal"] in CONTEXT) for r in score["reasons"])
        # Within each group, by push against the signal's usual spread, strongest first.
        spreads = trained_model.contract.signal_spreads
        assert spreads and all(v > 0 for v in spreads.values())
        strength = [r["contribution"] / spreads[r["signal"]] for r in score["reasons"]]
        for group in (True, False):
            part = [c for c, a in zip(strength, acting, strict=True) if a is group]
            assert part == sorted(part, reverse=True)
        assert all(reason["text"] and reason["family"] for reason in score["reasons"])
        # Every reason compares the account with renewing accounts of its segment.
        segment = str(rows.iloc[i]["segment"])
        for reason in score["reasons"]:
            group, typical = trained_model.contract.reference(reason["feature"], segment)
            assert reason["reference_group"] == group == (
                "*" if reason["feature"] == "segment" else segment)
            assert reason["reference"] == (typical if typical == typical else None)
            assert "; renewing " in reason["text"], reason["text"]
        # Family sums are exact: with the bias they add up to the raw score.
        assert math.isclose(sum(score["families"].values()) + b, r, rel_tol=1e-9)


@pytest.mark.parametrize(("edit", "status", "phrase"), [
    (lambda b: b["accounts"][0]["features"].pop("arr"), 422, "Missing features: arr"),
    (lambda b: b["accounts"][0]["features"].update(made_up=1), 422, "Unknown features"),
    (lambda b: b["accounts"][0]["features"].update(arr="lots"), 422, "must be a number"),
    (lambda b: b["accounts"][0]["features"].update(tenure_days=None), 422, "never missing"),
    (lambda b: b["accounts"][0]["features"].update(plan=False), 422, "must be text"),
    (lambda b: b["accounts"][0].update(as_of="yesterday"), 422, "as_of"),
    (lambda b: b["accounts"][0].update(account_id=""), 422, "account_id"),
    (lambda b: b.update(accounts=[]), 422, "accounts"),
    (lambda b: b.update(accounts=b["accounts"] * 334), 422, "at most 1000"),
    (lambda b: b.update(extra=True), 422, "extra"),
])
def test_bad_score_input_is_a_clear_4xx(client, simulated_set, trained_model, edit, status,
                                        phrase):
    frame, _, _ = simulated_set
    body, _ = _payload(frame, trained_model)
    edit(body)
    response = client.post("/v1/score", json=body, headers=auth("scorer"))
    assert response.status_code == status, response.text
    assert phrase in response.json()["detail"]


def test_malformed_json_is_a_422_not_a_500(client):
    response = client.post("/v1/score", content=b"{not json",
                           headers={**auth("scorer"), "Content-Type": "application/json"})
    assert response.status_code == 422


ENDPOINTS = [
    ("post", "/v1/score", "scorer"),
    ("get", "/v1/accounts", "viewer"),
    ("get", "/v1/model", "viewer"),
    ("post", "/v1/admin/reload", "admin"),
]


@pytest.mark.parametrize(("method", "path", "needs"), ENDPOINTS)
def test_keys_and_roles(client, simulated_set, trained_model, method, path, needs):
    frame, _, _ = simulated_set
    body, _ = _payload(frame, trained_model, 1)
    kwargs = {"json": body} if path == "/v1/score" else {}
    call = getattr(client, method)
    assert call(path, **kwargs).status_code == 401
    assert call(path, headers={"Authorization": "Bearer nope-nope-nope-nope"},
                **kwargs).status_code == 401
    for role in ("scorer", "viewer", "admin"):
        allowed = role in (needs, "admin")
        response = call(path, headers=auth(role), **kwargs)
        assert (response.status_code < 400) == allowed, (role, response.text)
        if not allowed:
            assert response.status_code == 403


def test_ranked_accounts_sort_filter_and_page(client):
    first = client.get("/v1/accounts", params={"per_page": 20}, headers=auth("viewer"))
    assert first.status_code == 200, first.text
    page = first.json()
    probabilities = [a["probability"] for a in page["items"]]
    assert probabilities == sorted(probabilities, reverse=True)
    assert page["total"] > 500 and len(page["items"]) == 20

    by_money = client.get("/v1/accounts", params={"sort": "arr_at_risk"},
                          headers=auth("viewer")).json()["items"]
    at_risk = [a["arr_at_risk"] for a in by_money]
    assert at_risk == sorted(at_risk, reverse=True)

    owner = page["items"][0]["csm_owner"]
    mine = client.get("/v1/accounts", params={"csm_owner": owner, "band": "high",
                                             "per_page": 200},
                      headers=auth("viewer")).json()
    assert mine["items"] and all(a["csm_owner"] == owner and a["band"] == "high"
                                 for a in mine["items"])

    bad = client.get("/v1/accounts", params={"band": "purple"}, headers=auth("viewer"))
    assert bad.status_code == 422 and "band" in bad.json()["detail"]
    bad = client.get("/v1/accounts", params={"per_page": 0}, headers=auth("viewer"))
    assert bad.status_code == 422


def test_account_detail_and_unknown_account(client):
    top = client.get("/v1/accounts", headers=auth("viewer")).json()["items"][0]
    detail = client.get(f"/v1/accounts/{top['account_id']}", headers=auth("viewer"))
    assert detail.status_code == 200, detail.text
    body = detail.json()
    AccountOut.model_validate(body)  # what the OpenAPI document declares
    assert body["reasons"] and body["history"]
    assert all(r["reference_group"] and "; renewing " in r["text"] for r in body["reasons"])
    assert math.isclose(body["history"][0]["probability"], top["probability"])
    missing = client.get("/v1/accounts/NOPE-123", headers=auth("viewer"))
    assert missing.status_code == 404 and "NOPE-123" in missing.json()["detail"]


def test_model_endpoint_describes_the_serving_model(client, trained_model):
    body = client.get("/v1/model", headers=auth("viewer")).json()
    assert body["version"] == "1" and body["alias"] == "champion"
    assert [f["name"] for f in body["features"]] == list(trained_model.contract.names)
    assert body["metrics"] == {} or "roc_auc" in body["metrics"]


def test_health_readiness_and_metrics(client, simulated_set, trained_model):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["model_version"] == "1"
    frame, _, _ = simulated_set
    body, _ = _payload(frame, trained_model, 2)
    client.post("/v1/score", json=body, headers=auth("scorer"))
    text = client.get("/metrics").text
    assert 'churnlens_http_requests_total{method="POST",route="/v1/score",status="200"}' in text
    assert "churnlens_scores_served_total 2.0" in text
    assert 'churnlens_model_info{version="1"} 1.0' in text


def test_not_ready_without_a_model(make_client, store):
    def no_model():
        raise RuntimeError("no champion yet")

    client = make_client(store, ModelHolder(no_model))
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "no champion yet" in ready.json()["last_reload_error"]
    response = client.post("/v1/score", json={"accounts": [
        {"account_id": "A", "as_of": "2025-01-01", "features": {}}]}, headers=auth("scorer"))
    assert response.status_code == 503 and "churnlens train" in response.json()["detail"]


def test_reload_swaps_models_and_a_failed_reload_keeps_the_old_one(
        make_client, store, trained_model, simulated_set):
    versions = iter(["1", "2"])
    fail = threading.Event()

    def loader():
        if fail.is_set():
            raise OSError("registry unreachable")
        return trained_model, next(versions)

    client = make_client(store, ModelHolder(loader))
    frame, _, _ = simulated_set
    body, _ = _payload(frame, trained_model, 1)
    statuses: list[int] = []
    stop = threading.Event()

    def traffic():
        while not stop.is_set():
            statuses.append(client.post("/v1/score", json=body,
                                        headers=auth("scorer")).status_code)

    worker = threading.Thread(target=traffic)
    worker.start()
    try:
        ok = client.post("/v1/admin/reload", headers=auth("admin"))
        assert ok.status_code == 200 and ok.json() == {"version": "2", "previous": "1"}
        fail.set()
        failed = client.post("/v1/admin/reload", headers=auth("admin"))
        assert failed.status_code == 409 and "still serving version 2" in failed.json()["detail"]
    finally:
        stop.set()
        worker.join()
    assert statuses and set(statuses) == {200}
    assert client.get("/readyz").json()["last_reload_error"].startswith("OSError")
    served = client.post("/v1/score", json=body, headers=auth("scorer")).json()
    assert served["model"]["version"] == "2"


def test_the_openapi_document_describes_the_reasons(client):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    reason = schemas["ReasonOut"]["properties"]
    assert {"signal", "reference", "reference_group", "context", "text"} <= set(reason)
    assert all(reason[k].get("description") for k in ("signal", "reference", "context"))
    paths = client.get("/openapi.json").json()["paths"]
    for path, method, model in (("/v1/score", "post", "ScoreResponse"),
                                ("/v1/accounts/{account_id}", "get", "AccountOut")):
        ok = paths[path][method]["responses"]["200"]["content"]["application/json"]
        assert ok["schema"]["$ref"].endswith(f"/{model}")
