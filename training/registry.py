"""The `churnlens` registered model: versions, the champion/challenger aliases, and rollback.

Every trained model becomes a version with alias `challenger`. It takes `champion` only
through `decide_promotion` (it beat the champion on the same test rows, or there was
none) or when a person runs `churnlens promote`. Each champion change is remembered in
the registered model's `champion_history` tag, so `churnlens rollback` can undo it.
"""

from __future__ import annotations

import logging
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from features.errors import ChurnlensError
from training.model import ChurnRiskModel
from training.pyfunc_model import MODEL_ARTIFACT
from training.tracking import CHALLENGER, CHAMPION, MODEL_NAME

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

log = logging.getLogger(__name__)

HISTORY_TAG = "champion_history"


class RegistryError(ChurnlensError):
    """A registry operation asked for something that does not exist."""

    exit_code = 5
    http_status = 404


class RegistryUnavailableError(RegistryError):
    """The registry could not be asked at all (down, unreachable, refusing)."""

    http_status = 503

# What the registry says when the thing asked for does not exist (an alias, a version).
_MISSING = frozenset({"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"})


@dataclass(frozen=True)
class PromotionDecision:
    promote: bool
    reason: str
    metric: str
    challenger_value: float
    champion_version: str | None = None
    champion_value: float = math.nan


def champion_version(client: MlflowClient) -> ModelVersion | None:
    """The champion's version; None only when the registry says there is none.

    A registry that cannot be reached is a RegistryError, never "no champion": the gate
    would otherwise promote a challenger unopposed, and serving would see no alias.
    """
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(MODEL_NAME, CHAMPION)
    except MlflowException as exc:
        _raise_unless_missing(exc, client)
        return None


def _raise_unless_missing(exc: Exception, client: MlflowClient) -> None:
    """Re-raise an MLflow failure as a RegistryError unless it says "no such thing"."""
    if getattr(exc, "error_code", None) in _MISSING:
        return
    raise RegistryUnavailableError(
        f"The MLflow registry did not answer ({exc}). Check that it is up and that "
        "MLFLOW_TRACKING_URI points to it (unset, the workspace's own is used).") from exc


def ensure_registered_model(client: MlflowClient) -> None:
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(MODEL_NAME)
    except MlflowException:
        client.create_registered_model(
            MODEL_NAME, description="Calibrated probability that a customer account does "
                                    "not renew its current term (churnlens).")


def register_version(client: MlflowClient, model_uri: str, run_id: str, model_id: str | None,
                     tags: dict[str, str]) -> str:
    """A new version of the registered model, aliased `challenger`; returns its number."""
    ensure_registered_model(client)
    version = client.create_model_version(MODEL_NAME, model_uri, run_id=run_id, tags=tags,
                                          model_id=model_id)
    client.set_registered_model_alias(MODEL_NAME, CHALLENGER, version.version)
    return str(version.version)


def decide_promotion(challenger_value: float, champion: str | None, champion_value: float,
                     metric: str = "roc_auc") -> PromotionDecision:
    """Promote when there is no champion, or the challenger scores strictly higher."""
    if champion is None:
        return PromotionDecision(True, "no champion yet", metric, challenger_value)
    if math.isnan(champion_value):
        return PromotionDecision(
            False, f"champion v{champion} could not score the same test rows; compare by "
                   f"hand and run `churnlens promote` if the challenger should serve",
            metric, challenger_value, champion, champion_value)
    if challenger_value > champion_value:
        return PromotionDecision(
            True, f"{metric} {challenger_value:.4f} beats champion v{champion}'s "
                  f"{champion_value:.4f} on the same test rows",
            metric, challenger_value, champion, champion_value)
    return PromotionDecision(
        False, f"{metric} {challenger_value:.4f} does not beat champion v{champion}'s "
               f"{champion_value:.4f} on the same test rows; it stays challenger",
        metric, challenger_value, champion, champion_value)


def promote(client: MlflowClient, version: str) -> str | None:
    """Make `version` the champion; returns the version it replaced (if any)."""
    _check_version(client, version)
    previous = champion_version(client)
    if previous is not None and str(previous.version) == str(version):
        return str(version)
    client.set_registered_model_alias(MODEL_NAME, CHAMPION, version)
    if previous is not None:
        history = [*_history(client), str(previous.version)]
        client.set_registered_model_tag(MODEL_NAME, HISTORY_TAG, ",".join(history))
    log.info("champion is now v%s (was %s)", version,
             f"v{previous.version}" if previous is not None else "none")
    return str(previous.version) if previous is not None else None


def rollback(client: MlflowClient) -> tuple[str, str]:
    """Give `champion` back to the version that held it before; returns (from, to)."""
    history = _history(client)
    current = champion_version(client)
    if not history or current is None:
        raise RegistryError("There is no earlier champion to roll back to: the champion "
                            "alias has not changed since the first promotion.")
    target = history.pop()
    client.set_registered_model_alias(MODEL_NAME, CHAMPION, target)
    client.set_registered_model_tag(MODEL_NAME, HISTORY_TAG, ",".join(history))
    log.info("rolled champion back from v%s to v%s", current.version, target)
    return str(current.version), target


def load_version(client: MlflowClient, version: str | None = None,
                 alias: str = CHAMPION) -> tuple[ChurnRiskModel, str]:
    """The churnlens model of a version (default: the alias's), with its version number."""
    import mlflow

    if version is None:
        found = _alias_version(client, alias)
        version = str(found.version)
    _check_version(client, version)
    with tempfile.TemporaryDirectory(prefix="churnlens-model-") as tmp:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{MODEL_NAME}/{version}", dst_path=tmp,
            tracking_uri=mlflow.get_tracking_uri())
        model = ChurnRiskModel.load(Path(local) / "artifacts" / MODEL_ARTIFACT)
    return model, version


STRICT_ARTIFACT = "strict_model"  # the run's strict cutoff model, beside a refitted one


def load_comparable(client: MlflowClient, version: str) -> ChurnRiskModel:
    """The model of `version` that the gate may compare on new test rows.

    A refitted champion has learnt from every label known when it was trained, perhaps
    the very test rows of a new run; its run keeps the strict cutoff model it was refitted
    from, which learnt only from labels known before its own test window. Versions
    without one (strict models, or older runs) are their own comparable model.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    found = client.get_model_version(MODEL_NAME, str(version))
    if found.run_id:
        with tempfile.TemporaryDirectory(prefix="churnlens-strict-") as tmp:
            try:
                local = mlflow.artifacts.download_artifacts(
                    run_id=found.run_id, artifact_path=STRICT_ARTIFACT, dst_path=tmp,
                    tracking_uri=mlflow.get_tracking_uri())
            except (MlflowException, OSError):
                local = ""
            if local and (Path(local) / "booster.txt").is_file():
                return ChurnRiskModel.load(Path(local))
    return load_version(client, str(version))[0]


def parse_model_uri(uri: str) -> tuple[str | None, str | None]:
    """(version, alias) of `models:/churnlens/3` or `models:/churnlens@champion`."""
    prefix = f"models:/{MODEL_NAME}"
    if uri.startswith(prefix + "@") and len(uri) > len(prefix) + 1:
        return None, uri[len(prefix) + 1:]
    if uri.startswith(prefix + "/") and uri[len(prefix) + 1:].isdigit():
        return uri[len(prefix) + 1:], None
    raise RegistryError(f"Cannot read the model URI {uri!r}: use models:/{MODEL_NAME}@ALIAS "
                        f"or models:/{MODEL_NAME}/VERSION.")


def list_versions(client: MlflowClient) -> list[dict[str, str]]:
    """Every version, newest first, with its aliases, training time and test ROC AUC."""
    from mlflow.exceptions import MlflowException

    try:
        registered = client.get_registered_model(MODEL_NAME)
    except MlflowException as exc:
        _raise_unless_missing(exc, client)
        return []
    # Version search leaves aliases empty; the registered model holds them.
    aliases: dict[str, list[str]] = {}
    for alias, version in sorted(registered.aliases.items()):
        aliases.setdefault(str(version), []).append(alias)
    rows = []
    for mv in client.search_model_versions(f"name = '{MODEL_NAME}'"):
        metrics = client.get_run(mv.run_id).data.metrics if mv.run_id else {}
        auc = metrics.get("test.model.roc_auc")
        rows.append({"version": str(mv.version),
                     "aliases": ",".join(aliases.get(str(mv.version), [])),
                     "trained_at": mv.tags.get("trained_at", ""),
                     "roc_auc": f"{auc:.3f}" if auc is not None else "–"})
    return sorted(rows, key=lambda r: -int(r["version"]))


def _alias_version(client: MlflowClient, alias: str) -> ModelVersion:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(MODEL_NAME, alias)
    except MlflowException as exc:
        _raise_unless_missing(exc, client)
        raise RegistryError(f"No model version has the alias {alias!r}. Train one with "
                            f"`churnlens train`.") from None


def _check_version(client: MlflowClient, version: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        client.get_model_version(MODEL_NAME, str(version))
    except MlflowException as exc:
        _raise_unless_missing(exc, client)
        raise RegistryError(f"Model {MODEL_NAME!r} has no version {version}. "
                            f"`churnlens models` lists the versions.") from None


def _history(client: MlflowClient) -> list[str]:
    tags = client.get_registered_model(MODEL_NAME).tags
    raw = tags.get(HISTORY_TAG, "")
    return [v for v in raw.split(",") if v]
