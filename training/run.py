"""One training run end to end: fit, evaluate, report, log to MLflow, register, gate.

Everything a data scientist needs to trust or reject the run lands in MLflow: the config
as params, the headline metrics of the model and both baselines, the training set's
hash and the sources' fingerprints as tags, the report with its plots, and the model as
a pyfunc. The new version becomes `challenger`; the gate then compares it with the
champion on the same test rows and records the decision and its numbers in the run.
"""

from __future__ import annotations

import logging
import math
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.settings import get_settings
from training.config import TrainConfig
from training.metrics import METRICS, evaluate_scores
from training.pipeline import SCORERS, TrainingResult, load_truth, train_and_evaluate
from training.registry import (
    STRICT_ARTIFACT,
    PromotionDecision,
    champion_version,
    decide_promotion,
    load_comparable,
    promote,
    register_version,
)
from training.report import write_report
from training.splits import labels_unseen
from training.tracking import experiment_id, mlflow_client, quiet_mlflow

log = logging.getLogger(__name__)

PYFUNC_CODE = Path(__file__).with_name("pyfunc_model.py")
GATE_METRIC = "roc_auc"
# What the logged model needs at serve time (`--env-manager local` uses this venv).
PIP_REQUIREMENTS = ("churnlens", "lightgbm", "pandas", "numpy", "mlflow")


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    version: str
    decision: PromotionDecision
    result: TrainingResult
    report_dir: Path


def run_training(frame: pd.DataFrame, manifest: dict[str, Any], config: TrainConfig,
                 training_set: Path, report_dir: Path | None = None) -> RunOutcome:
    """Train on a training set, log the run, register the model and apply the gate."""
    truth = load_truth(manifest)
    result = train_and_evaluate(frame, config, truth)
    trained_at = pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")
    for model in {id(m): m for m in (result.model, result.strict_model)}.values():
        model.metadata.update({
            "trained_at": trained_at,
            "training_set": manifest.get("content_hash", ""),
            "training_set_path": str(training_set),
            # the strict cutoff model's test metrics: what the refit's recipe achieved
            "metrics": {m: result.cutoff.evaluation.metric("model", m) for m in METRICS},
        })
    result.cutoff.evaluation.notes.extend(result.notes)
    report_dir = report_dir or get_settings().home / "reports" / trained_at.replace(":", "")
    write_report(report_dir, evaluation=result.cutoff.evaluation, backtest=result.backtest,
                 y=result.cutoff.y, scores=result.cutoff.scores,
                 contributions=result.contributions,
                 context=_context(manifest, training_set, result, trained_at))

    quiet_mlflow()
    import mlflow

    client = mlflow_client()
    with mlflow.start_run(experiment_id=experiment_id(client),
                          run_name=f"train-{trained_at}") as run:
        planned = config if result.split_config is None else config.model_copy(
            update={"split": result.split_config})
        mlflow.log_params(planned.flat_params())  # the split's windows as resolved
        mlflow.set_tags(_tags(manifest, training_set))
        mlflow.log_metrics(_metrics(result))
        mlflow.log_artifacts(str(report_dir), artifact_path="report")
        info = _log_model(mlflow, frame, result)
        if result.refit is not None:
            with tempfile.TemporaryDirectory(prefix="churnlens-strict-") as tmp:
                mlflow.log_artifacts(str(result.strict_model.save(Path(tmp) / "strict")),
                                     artifact_path=STRICT_ARTIFACT)
    version = register_version(client, info.model_uri, run.info.run_id, info.model_id,
                               {"training_set": manifest.get("content_hash", ""),
                                "trained_at": trained_at})
    decision = _gate(client, frame, result)
    _record_decision(client, run.info.run_id, version, decision)
    if decision.promote:
        promote(client, version)
    return RunOutcome(run.info.run_id, version, decision, result, report_dir)


def _context(manifest: dict[str, Any], path: Path, result: TrainingResult,
             trained_at: str) -> dict[str, str]:
    split = result.cutoff.split
    return {
        "Trained at": trained_at,
        "Training set": f"{path} ({manifest.get('rows', '?'):,} rows, hash "
                        f"{manifest.get('content_hash', '?')})",
        "Sources": str(manifest.get("sources", {}).get("location", "?")),
        "Cutoff split": split.describe(),
        "Backtest folds": str(len(result.folds)),
        "Trees": str(result.strict_model.metadata.get("best_iteration", "?")),
        "Model that ships": (result.refit.describe() if result.refit is not None
                             else "the strict cutoff model"),
    }


def _tags(manifest: dict[str, Any], path: Path) -> dict[str, str]:
    sources = manifest.get("sources", {})
    tags = {
        "training_set.hash": str(manifest.get("content_hash", "")),
        "training_set.path": str(path),
        "catalog_version": str(manifest.get("catalog_version", "")),
        "sources.location": str(sources.get("location", "")),
        "sources.data_end": str(sources.get("data_end", "")),
        "git_commit": _git_commit(),
    }
    for table, digest in sources.get("fingerprints", {}).items():
        tags[f"sources.fingerprint.{table}"] = str(digest)
    return tags


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).parent, timeout=5, check=True)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def _metrics(result: TrainingResult) -> dict[str, float]:
    """Headline numbers: test metrics per scorer, backtest mean and spread, the oracle."""
    out: dict[str, float] = {}
    ev = result.cutoff.evaluation
    for scorer in SCORERS:
        for metric in METRICS:
            out[f"test.{scorer}.{metric}"] = ev.metric(scorer, metric)
    for _, row in result.backtest.iterrows():
        for metric in METRICS:
            out[f"backtest.{row['scorer']}.{metric}_mean"] = float(row[f"{metric}_mean"])
            out[f"backtest.{row['scorer']}.{metric}_std"] = float(row[f"{metric}_std"])
    if not math.isnan(ev.oracle_auc):
        out["test.oracle.roc_auc"] = ev.oracle_auc  # the bound: at as_of when the truth has it
    out.update(ev.oracle_metrics())  # test.oracle_as_of.roc_auc, test.oracle_at_decision.roc_auc
    out["test.rows"] = float(len(result.cutoff.rows))
    if result.refit is not None:
        out["refit.rows"] = float(result.refit.rows)
        out["refit.trees"] = float(result.refit.trees)
        out["refit.calibration_rows"] = float(result.refit.calibration_rows)
    return {k: v for k, v in out.items() if not math.isnan(v)}


def _log_model(mlflow: Any, frame: pd.DataFrame, result: TrainingResult) -> Any:
    import warnings

    from mlflow.models import infer_signature

    from training.pyfunc_model import MODEL_ARTIFACT, PROBABILITY

    names = list(result.model.contract.names)
    example = pyfunc_input(frame.iloc[result.cutoff.split.test[:5]][names])
    with tempfile.TemporaryDirectory(prefix="churnlens-model-") as tmp:
        model_dir = result.model.save(Path(tmp) / MODEL_ARTIFACT)
        output = pd.DataFrame({PROBABILITY: result.model.predict_proba(example)})
        with warnings.catch_warnings():
            # MLflow 3.17 compares columns with a range, which pandas 3 deprecates; the
            # warning is MLflow's to fix and says nothing about churnlens's model.
            warnings.filterwarnings("ignore", message="Operation with range is deprecated")
            return mlflow.pyfunc.log_model(
                name="model",
                python_model=str(PYFUNC_CODE),
                artifacts={MODEL_ARTIFACT: str(model_dir)},
                signature=infer_signature(example, output),
                input_example=example,
                pip_requirements=list(PIP_REQUIREMENTS),
            )


def pyfunc_input(features: pd.DataFrame) -> pd.DataFrame:
    """Features as JSON-friendly columns: categoricals as text, every number a float."""
    columns = {}
    for name in features.columns:
        column = features[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            columns[name] = column.astype("object").where(column.notna(), None)
        else:
            columns[name] = column.astype("float64")
    return pd.DataFrame(columns, index=features.index).reset_index(drop=True)


def _gate(client: Any, frame: pd.DataFrame, result: TrainingResult) -> PromotionDecision:
    """Compare the recipes out of time: the challenger's strict model against the
    champion's (`load_comparable`) on the test rows whose labels neither has seen."""
    challenger = result.cutoff.evaluation.metric("model", GATE_METRIC)
    current = champion_version(client)
    if current is None:
        return decide_promotion(challenger, None, math.nan, GATE_METRIC)
    champion_value = math.nan
    try:
        champion = load_comparable(client, str(current.version))
        test = frame.iloc[result.cutoff.split.test]
        unseen = labels_unseen(champion.metadata.get("labels_known_through"), test)
        y, mine = result.cutoff.y[unseen], result.cutoff.scores["model"][unseen]
        if unseen.sum() < len(unseen):
            log.info("gate: %d of %d test rows resolved after champion v%s's labels",
                     unseen.sum(), len(unseen), current.version)
            challenger = evaluate_scores(y, mine)[GATE_METRIC]
        prob = champion.predict_proba(test.iloc[np.flatnonzero(unseen)])
        champion_value = evaluate_scores(y, np.asarray(prob))[GATE_METRIC]
    except Exception as exc:  # any failure to score means "cannot compare", never a crash
        log.warning("champion v%s could not score the test rows: %s", current.version, exc)
    return decide_promotion(challenger, str(current.version), champion_value, GATE_METRIC)


def _record_decision(client: Any, run_id: str, version: str,
                     decision: PromotionDecision) -> None:
    client.set_tag(run_id, "gate.decision", "promoted" if decision.promote else "kept")
    client.set_tag(run_id, "gate.reason", decision.reason)
    client.set_tag(run_id, "gate.version", version)
    client.set_tag(run_id, "gate.champion_version", decision.champion_version or "none")
    client.log_metric(run_id, f"gate.challenger.{decision.metric}", decision.challenger_value)
    if not math.isnan(decision.champion_value):
        client.log_metric(run_id, f"gate.champion.{decision.metric}", decision.champion_value)
    log.info("gate: v%s %s (%s)", version, "promoted" if decision.promote else "kept",
             decision.reason)
