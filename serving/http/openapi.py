"""An OpenAPI document that says what the service really accepts.

`POST /v1/score` takes exactly the loaded model's features, so its body schema cannot be
written in code: it is filled in from the model's feature contract (every feature
required, numbers or known-category text, null only where training had nulls, nothing
else), with an example body of typical values that the service accepts. The document is
rebuilt whenever another model version serves.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from training.contract import LARGEST_VALUE, FeatureContract

FEATURES_AT = ("components", "schemas", "AccountFeatures", "properties", "features")

Serving = Callable[[], tuple[str, FeatureContract] | None]


def feature_schema(contract: FeatureContract) -> dict[str, Any]:
    """The JSON Schema of one account's `features` object for this model."""
    properties = {}
    for name in contract.names:
        if name in contract.categories:
            known = ", ".join(contract.categories[name])
            one: dict[str, Any] = {"type": "string", "description": (
                f"One of {known}; any other text counts as unknown.")}
        else:
            one = {"type": "number", "minimum": -LARGEST_VALUE, "maximum": LARGEST_VALUE}
        nullable = contract.nullable is None or name in contract.nullable
        properties[name] = {"anyOf": [one, {"type": "null"}]} if nullable else one
    return {
        "type": "object",
        "title": "Features",
        "description": "Every feature of the serving model (GET /v1/model), by name; "
                       "null only where the schema allows it.",
        "properties": properties,
        "required": list(contract.names),
        "additionalProperties": False,
    }


def example_features(contract: FeatureContract) -> dict[str, Any]:
    """Typical values of renewing training accounts: a body the model accepts."""
    out: dict[str, Any] = {}
    for name in contract.names:
        value = contract.references.get(name, {}).get("*")
        nullable = contract.nullable is None or name in contract.nullable
        if value is None and not nullable:
            value = contract.categories[name][0] if name in contract.categories else 0.0
        out[name] = value
    return out


def install_openapi(app: FastAPI, serving: Serving) -> None:
    """Make `app.openapi()` describe the model `serving()` names (version, contract)."""
    lock = threading.Lock()
    built: dict[str | None, dict[str, Any]] = {}

    def openapi() -> dict[str, Any]:
        current = serving()
        version = current[0] if current else None
        with lock:
            if version not in built:
                built.clear()
                built[version] = _document(app, current[1] if current else None)
            app.openapi_schema = built[version]
            return built[version]

    app.openapi = openapi  # type: ignore[method-assign]


def _document(app: FastAPI, contract: FeatureContract | None) -> dict[str, Any]:
    document = get_openapi(title=app.title, version=app.version, summary=app.summary,
                           description=app.description, routes=app.routes)
    if contract is None:
        return document
    node = document
    for key in FEATURES_AT[:-1]:
        node = node[key]
    node[FEATURES_AT[-1]] = feature_schema(contract)
    body = document["paths"]["/v1/score"]["post"]["requestBody"]["content"]["application/json"]
    body["example"] = {"accounts": [{"account_id": "A00001", "as_of": "2026-01-01",
                                     "features": example_features(contract)}]}
    return document
