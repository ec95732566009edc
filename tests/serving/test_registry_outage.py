"""The MLflow registry unreachable at reload: the service keeps serving the model it has.

A champion is trained and registered in the workspace's MLflow, which a real `mlflow
server` then serves over HTTP, as a shared tracking server would; the app loads its
model through that server. With the server stopped, an admin reload and the alias poll
fail within seconds (not MLflow's default minutes of retries), saying why, while scoring
goes on with the old model; once the server is back, a reload works again.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from api_keys import auth
from fastapi.testclient import TestClient
from live_server import free_port
from web_support import keyring_of_test_keys

import training.tracking as tracking
from serving.api import create_app
from serving.batch import run_batch
from serving.model_holder import ModelHolder, registry_loader
from serving.risk import Bands
from serving.store.score_store import ScoreStore

pytestmark = pytest.mark.slow


class _MlflowServer:
    def __init__(self, database: Path, port: int) -> None:
        self.database, self.port, self.process = database, port, None

    def start(self) -> None:
        mlflow = Path(sys.executable).with_name("mlflow")
        self.process = subprocess.Popen(
            [str(mlflow), "server", "--backend-store-uri", f"sqlite:///{self.database}",
             "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2):
                    return
            except OSError:
                time.sleep(0.5)
        raise AssertionError("mlflow server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=60)
            self.process = None


def test_an_unreachable_registry_keeps_the_old_model_serving(
        champion, simulated_sources, isolated_settings, monkeypatch):
    trained = champion
    server = _MlflowServer(isolated_settings.mlflow_dir / "mlflow.db", free_port())
    server.start()
    monkeypatch.setattr(tracking, "_USER_TRACKING_URI", f"http://127.0.0.1:{server.port}")
    try:
        holder = ModelHolder(*registry_loader())
        store = ScoreStore(isolated_settings.score_store)
        model, version = holder._loader()
        example = run_batch(simulated_sources, model, version, store, None,
                            Bands()).example_request
        app = create_app(isolated_settings.model_copy(update={"reload_interval": 0}),
                         holder=holder, store=store, keyring=keyring_of_test_keys())
        with TestClient(app) as client:
            assert client.get("/v1/model", headers=auth("viewer")).json()["version"] == \
                trained.version

            server.stop()
            started = time.monotonic()
            failed = client.post("/v1/admin/reload", headers=auth("admin"))
            took = time.monotonic() - started
            assert failed.status_code == 409, failed.text
            detail = failed.json()["detail"]
            assert f"still serving version {trained.version}" in detail
            assert "MLflow registry did not answer" in detail, detail
            assert took < 90, f"a reload against a dead registry took {took:.0f} s"
            assert not holder.poll() and "cannot check the champion" in holder.last_error

            scored = client.post("/v1/score", json=example, headers=auth("scorer"))
            assert scored.status_code == 200, scored.text
            assert scored.json()["model"]["version"] == trained.version
            ready = client.get("/readyz").json()
            assert ready["ready"] and "registry" in ready["last_reload_error"]

            server.start()
            back = client.post("/v1/admin/reload", headers=auth("admin"))
            assert back.status_code == 200 and back.json()["version"] == trained.version
            assert client.get("/readyz").json()["last_reload_error"] is None
        store.dispose()
    finally:
        server.stop()
