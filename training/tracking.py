"""Where MLflow keeps churnlens's runs and models, set up quietly and offline.

Tracking defaults to a SQLite store inside the workspace with artifacts beside it, so a
workspace is self-contained; `MLFLOW_TRACKING_URI` points elsewhere (a team server).
MLflow is told not to phone home and to log warnings only, before it is imported.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from features.settings import Settings, get_settings

if TYPE_CHECKING:
    from mlflow import MlflowClient

log = logging.getLogger(__name__)

EXPERIMENT = "churnlens"
MODEL_NAME = "churnlens"
CHAMPION = "champion"
CHALLENGER = "challenger"

# The user's choice, read once: MLflow's own `set_tracking_uri` writes this variable too,
# so reading it later would return whatever workspace was used last in this process.
_USER_TRACKING_URI = os.environ.get("MLFLOW_TRACKING_URI") or None

_QUIET = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_LOGGING_LEVEL": "WARNING",
    "MLFLOW_ENABLE_ASYNC_LOGGING": "false",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    # An unreachable tracking server: MLflow's defaults (7 retries, doubling backoff,
    # 120 s timeout) block a call for about 4 minutes; these fail within about 30 s.
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
}


def quiet_mlflow() -> None:
    """No telemetry lookups, no INFO chatter and bounded HTTP retries; call before
    `import mlflow`. Each is a default: the environment's own setting wins."""
    for name, value in _QUIET.items():
        os.environ.setdefault(name, value)


def tracking_uri(settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    if _USER_TRACKING_URI:
        return _USER_TRACKING_URI
    return f"sqlite:///{(settings.mlflow_dir / 'mlflow.db').resolve()}"


def mlflow_client(settings: Settings | None = None) -> MlflowClient:
    """A client on the workspace's tracking store and registry, also set for `mlflow.*`."""
    quiet_mlflow()
    import mlflow

    settings = settings or get_settings()
    uri = tracking_uri(settings)
    if uri.startswith("sqlite:///"):
        settings.mlflow_dir.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


def experiment_id(client: MlflowClient, settings: Settings | None = None) -> str:
    """The `churnlens` experiment, created with its artifacts in the workspace if new."""
    settings = settings or get_settings()
    found = client.get_experiment_by_name(EXPERIMENT)
    if found is not None:
        return str(found.experiment_id)
    location = None
    if not _USER_TRACKING_URI:
        location = (settings.mlflow_dir / "artifacts").resolve().as_uri()
    log.info("creating MLflow experiment %r", EXPERIMENT)
    return str(client.create_experiment(EXPERIMENT, artifact_location=location))
