"""The OpenAPI document tells the truth: schemathesis finds no request it gets wrong.

schemathesis (all checks, a fixed seed, a bounded number of examples) drives a real
uvicorn server holding the trained test model and a stored scoring run, with an admin
key, so every route is reached past its key check; the unit tests pin the parts of the
document that come from the loaded model.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_keys import KEYS, auth
from fastapi.testclient import TestClient
from web_support import keyring_of_test_keys, served_app

from features.settings import Settings
from serving.api import create_app
from serving.http.openapi import example_features, feature_schema
from serving.model_holder import ModelHolder

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
EXAMPLES = 25


@pytest.fixture(scope="module")
def served(tmp_path_factory, simulated_sources, trained_model) -> Iterator[str]:
    with served_app(tmp_path_factory.mktemp("openapi"), simulated_sources,
                    trained_model) as url:
        yield url


@pytest.mark.slow
def test_schemathesis_finds_no_failure(served: str, tmp_path: Path):
    report = subprocess.run(
        [str(SCHEMATHESIS), "run", f"{served}/openapi.json", "--checks", "all",
         "--seed", "1", "--max-examples", str(EXAMPLES), "--no-color",
         "-H", f"Authorization: Bearer {KEYS['admin']}"],
        capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert report.returncode == 0, report.stdout[-6000:] + report.stderr[-2000:]
    assert "No issues found" in report.stdout or "0 failures" in report.stdout.lower(), (
        report.stdout[-3000:])


def test_the_score_body_lists_exactly_the_models_features(trained_model):
    client = TestClient(create_app(Settings(reload_interval=0),
                                   holder=ModelHolder(lambda: (trained_model, "1"))))
    with client:
        document = client.get("/openapi.json").json()
    features = document["components"]["schemas"]["AccountFeatures"]["properties"]["features"]
    contract = trained_model.contract
    assert list(features["properties"]) == list(contract.names)
    assert features["required"] == list(contract.names)
    assert features["additionalProperties"] is False
    for name in contract.names:
        kinds = features["properties"][name]
        allowed = {k.get("type") for k in kinds.get("anyOf", [kinds])}
        assert ("string" in allowed) == (name in contract.categories), name
        assert ("null" in allowed) == (name in (contract.nullable or contract.names)), name


def test_the_documented_example_scores(trained_model):
    client = TestClient(create_app(Settings(reload_interval=0),
                                   holder=ModelHolder(lambda: (trained_model, "1")),
                                   keyring=keyring_of_test_keys()))
    with client:
        post = client.get("/openapi.json").json()["paths"]["/v1/score"]["post"]
        example = post["requestBody"]["content"]["application/json"]["example"]
        answer = client.post("/v1/score", json=example, headers=auth("scorer"))
    assert answer.status_code == 200, answer.text
    assert 0 < answer.json()["scores"][0]["probability"] < 1


def test_every_error_status_is_documented_with_the_body_sent(trained_model):
    client = TestClient(create_app(Settings(reload_interval=0),
                                   holder=ModelHolder(lambda: (trained_model, "1"))))
    with client:
        document = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path in ("/v1/score", "/v1/accounts", "/v1/accounts/{account_id}", "/v1/model",
                 "/v1/admin/reload"):
        for operation in document["paths"][path].values():
            errors = {s: r for s, r in operation["responses"].items() if s >= "400"}
            assert {"401", "403"} <= set(errors), path
            for answer in errors.values():
                schema = answer["content"]["application/json"]["schema"]
                assert schema["$ref"].endswith("/ErrorOut"), path


def test_the_document_follows_the_model_that_serves(trained_model):
    contract = trained_model.contract
    fewer = dataclasses.replace(contract, names=contract.names[:5])
    serving = {"now": (trained_model, "1")}

    client = TestClient(create_app(Settings(reload_interval=0),
                                   holder=ModelHolder(lambda: serving["now"]),
                                   keyring=keyring_of_test_keys()))
    with client:
        before = client.get("/openapi.json").json()
        serving["now"] = (dataclasses.replace(trained_model, contract=fewer), "2")
        assert client.post("/v1/admin/reload", headers=auth("admin")).status_code == 200
        after = client.get("/openapi.json").json()

    def features(document: dict) -> list[str]:
        schemas = document["components"]["schemas"]
        return list(schemas["AccountFeatures"]["properties"]["features"]["properties"])

    assert features(before) == list(contract.names)
    assert features(after) == list(contract.names[:5])
    assert feature_schema(fewer)["required"] == list(contract.names[:5])
    assert list(example_features(fewer)) == list(contract.names[:5])


def test_a_number_too_large_for_the_model_is_a_422(trained_model):
    client = TestClient(create_app(Settings(reload_interval=0),
                                   holder=ModelHolder(lambda: (trained_model, "1")),
                                   keyring=keyring_of_test_keys()))
    features = example_features(trained_model.contract)
    number = next(n for n in trained_model.contract.names
                  if n not in trained_model.contract.categories)
    with client:
        for huge in (10 ** 400, 1e308):
            body = {"accounts": [{"account_id": "A1", "as_of": "2026-01-01",
                                  "features": {**features, number: huge}}]}
            answer = client.post("/v1/score", json=body, headers=auth("scorer"))
            assert answer.status_code == 422, answer.text
            assert "finite number" in answer.json()["detail"]


def test_a_body_past_the_limit_is_a_413(trained_model):
    client = TestClient(create_app(Settings(reload_interval=0),
                                   holder=ModelHolder(lambda: (trained_model, "1")),
                                   keyring=keyring_of_test_keys()))
    with client:
        answer = client.post("/v1/score", content=b"{" + b" " * (9 * 1024 * 1024) + b"}",
                             headers={**auth("scorer"), "content-type": "application/json"})
    assert answer.status_code == 413
    assert answer.json()["detail"]
