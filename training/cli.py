"""`churnlens` commands of the training stage: train, evaluate, models, promote, rollback.

Commands parse options and call library functions; heavy imports stay inside them.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    import pandas as pd

    from training.evaluation import Evaluation
    from training.model import ChurnRiskModel

log = logging.getLogger(__name__)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="Training config YAML (default: the packaged "
                 "training/configs/default.yaml; unknown keys are errors).",
                 show_default=False),
]
TrainingSetOption = Annotated[
    Path | None,
    typer.Option("--training-set", help="Training-set Parquet file from `churnlens build` "
                 "(default: the latest in <home>/training_sets/default, built from the "
                 "sources when there is none).", show_default=False),
]


def train(
    config: ConfigOption = None,
    training_set: TrainingSetOption = None,
    cluster: Annotated[str | None, typer.Option(
        "--cluster", help="Fit each booster on a Dask worker: local[:N] or tcp://HOST:8786 "
        "(default $CHURNLENS_DASK_SCHEDULER, else none: here). The fit is plain "
        "LightGBM, exactly the local one.", show_default=False)] = None,
    distributed_train: Annotated[bool, typer.Option(
        "--distributed-train", help="With --cluster, fit across the workers with "
        "lightgbm.dask instead. Its documented limits hold: no early stopping (every "
        "booster grows lightgbm.n_estimators trees; lower it in the config), and the "
        "model equals a local fit only within a tolerance.")] = False,
) -> None:
    """Train, evaluate out of time against two baselines, and register the model.

    The model is fitted on snapshots whose labels resolved before the validation window,
    stopped early and calibrated on that window, and judged on the later test window
    beside a rule-based health score and a logistic regression, plus a rolling backtest.
    The run, report and model go to MLflow; the new version becomes `challenger`, and
    `champion` when it beats the current champion on the same test rows.
    """
    from features.distributed.cluster import parse_cluster
    from training.boosting import fitting_on
    from training.config import load_config
    from training.run import run_training

    train_config = load_config(config)
    where = parse_cluster(cluster)
    frame, manifest, path = _training_set(training_set)
    log.info("training on %s (%d rows)", path, len(frame))
    with fitting_on(where, distributed_train):
        outcome = run_training(frame, manifest, train_config, path)
    ev = outcome.result.cutoff.evaluation
    typer.echo(f"Run {outcome.run_id}: model version {outcome.version} "
               f"({'champion' if outcome.decision.promote else 'challenger'}).")
    typer.echo(f"  {outcome.result.cutoff.split.describe()}")
    refit = outcome.result.refit
    typer.echo(f"  serves: the cutoff recipe {refit.describe()}" if refit is not None
               else "  serves: the strict cutoff model (refit off or skipped)")
    for scorer in ("model", "health_score", "logistic"):
        typer.echo(f"  {scorer:<13} ROC AUC {ev.metric(scorer, 'roc_auc'):.3f}  "
                   f"PR AUC {ev.metric(scorer, 'pr_auc'):.3f}  "
                   f"lift@10% {ev.metric(scorer, 'lift_at_10'):.2f}  "
                   f"ECE {ev.metric(scorer, 'ece'):.3f}")
    for line in _oracle_lines(ev):
        typer.echo(line)
    typer.echo(f"  gate: {outcome.decision.reason}")
    typer.echo(f"Report: {outcome.report_dir / 'report.md'}")
    typer.echo(_ui_hint())


def evaluate(
    model_uri: Annotated[str, typer.Option(help="Model to judge: models:/churnlens@champion, "
                                           "models:/churnlens@challenger or "
                                           "models:/churnlens/VERSION.")
                         ] = "models:/churnlens@champion",
    training_set: TrainingSetOption = None,
    config: ConfigOption = None,
) -> None:
    """Score a registered model on a training set's latest out-of-time test window.

    Prints its metrics overall, per segment and per days-to-renewal bucket.
    """
    from training.config import load_config
    from training.evaluation import ORACLES
    from training.pipeline import evaluate_with_truth, load_truth
    from training.registry import load_version, parse_model_uri
    from training.splits import plan_splits
    from training.tracking import mlflow_client

    train_config = load_config(config)
    frame, manifest, path = _training_set(training_set)
    version, alias = parse_model_uri(model_uri)
    client = mlflow_client()
    model, number = load_version(client, version, alias or "champion")
    split = plan_splits(frame, train_config.split.model_copy(update={"backtest_folds": 0}))[0]
    test, judged, notes = _unseen_test_rows(client, model, number, frame.iloc[split.test])
    result = evaluate_with_truth(test.reset_index(drop=True),
                                 {"model": judged.predict_proba(test)}, load_truth(manifest))
    result.notes[:0] = notes
    typer.echo(f"Model version {number} on {path}")
    typer.echo(f"  test {split.test_start.date()} .. {split.test_end.date()}: "
               f"{len(test):,} rows, {int(test['churned'].astype(bool).sum()):,} churned")
    table = result.table.drop(columns="scorer")
    typer.echo(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    for line in _oracle_lines(result):
        typer.echo(line)
    if not result.oracles.empty:
        by_slice = result.oracles.pivot_table(index=["slice", "value"], columns="oracle",
                                              values="roc_auc", sort=False)
        by_slice = by_slice.rename(columns=ORACLES)[[ORACLES[o] for o in ORACLES
                                                     if o in by_slice.columns]]
        typer.echo("Oracle ROC AUC per slice, on the same rows:")
        typer.echo(by_slice.to_string(float_format=lambda v: f"{v:.3f}"))
    for note in result.notes:
        typer.echo(f"  note: {note}")


def _unseen_test_rows(client: Any, model: ChurnRiskModel, version: str, test: pd.DataFrame
                      ) -> tuple[pd.DataFrame, ChurnRiskModel, list[str]]:
    """The test rows whose labels `model` never learnt, and the model to score them.

    A model refitted on every resolved label has learnt this training set's test window
    when it is the one it was trained on; it is then judged by the strict model it was
    refitted from (`load_comparable`), which has not.
    """
    from training.registry import load_comparable
    from training.splits import NotEnoughDataError, labels_unseen

    notes = []
    unseen = labels_unseen(model.metadata.get("labels_known_through"), test)
    if not unseen.any():
        model = load_comparable(client, version)
        unseen = labels_unseen(model.metadata.get("labels_known_through"), test)
        notes.append(f"Version {version} was refitted on these test rows' labels; the "
                     f"numbers are the strict model it was refitted from (trained on labels "
                     f"known through {str(model.metadata.get('labels_known_through'))[:10]}). "
                     f"The refit's own need a training set built later.")
    if not unseen.any():
        raise NotEnoughDataError(
            f"Version {version} has learnt the label of every test row of this training "
            f"set. Evaluate it on a training set built from later data.")
    if not unseen.all():
        notes.append(f"{int((~unseen).sum()):,} test rows whose labels the model learnt are "
                     f"left out.")
    return test[unseen], model, notes


def _oracle_lines(evaluation: Evaluation) -> list[str]:
    """Both oracles' ROC AUC on the test rows (simulated data only), said for what they
    know: at as_of is the best a model can do, at decision knows the months after."""
    from training.evaluation import ORACLES

    hints = {"as_of": "best achievable: true risk given the world before as_of",
             "at_decision": "true probability at renewal; no model at as_of can reach it"}
    return [f"  {label:<38} ROC AUC {evaluation.oracle(name):.3f} ({hints[name]})"
            for name, label in ORACLES.items() if math.isfinite(evaluation.oracle(name))]


def models() -> None:
    """List the registered model's versions with their aliases and test ROC AUC."""
    from training.registry import list_versions
    from training.tracking import mlflow_client

    rows = list_versions(mlflow_client())
    if not rows:
        typer.echo("No model versions yet; run `churnlens train`.")
        return
    typer.echo(f"{'version':>7}  {'aliases':<20} {'trained_at':<26} test ROC AUC")
    for row in rows:
        typer.echo(f"{row['version']:>7}  {row['aliases']:<20} {row['trained_at']:<26} "
                   f"{row['roc_auc']}")


def promote(version: Annotated[str, typer.Argument(help="Model version to serve.")]) -> None:
    """Make VERSION the champion (the model the service scores with)."""
    from training.registry import promote as promote_version
    from training.tracking import mlflow_client

    previous = promote_version(mlflow_client(), version)
    typer.echo(f"Version {version} is the champion"
               + (f" (was {previous})." if previous and previous != version else "."))


def rollback() -> None:
    """Give the champion alias back to the version that held it before the last change."""
    from training.registry import rollback as rollback_champion
    from training.tracking import mlflow_client

    was, now = rollback_champion(mlflow_client())
    typer.echo(f"Champion rolled back from version {was} to version {now}.")


def _training_set(path: Path | None) -> tuple[pd.DataFrame, dict[str, Any], Path]:
    """The given training set, else the latest, else one built now from the sources."""
    from features.errors import SourceNotFoundError
    from features.point_in_time.artifacts import latest_training_set, read_training_set

    if path is None:
        try:
            path = latest_training_set()
        except SourceNotFoundError:
            path = _build_default()
    frame, manifest = read_training_set(path)
    # What the build warned about the sources (tables ending on different days, ...)
    # still holds for every model trained on its rows.
    for warning in manifest.get("sources", {}).get("warnings", []):
        log.warning("%s (from the training set's sources)", warning)
    return frame, manifest, path


def _build_default() -> Path:
    from features.point_in_time.artifacts import write_training_set
    from features.point_in_time.spec import TrainingSetSpec
    from features.point_in_time.training_set import build_training_set
    from features.settings import get_settings
    from features.sources.loading import load_sources

    settings = get_settings()
    log.info("no training set yet: building one from %s", settings.sources_dir)
    sources = load_sources(str(settings.sources_dir))
    spec = TrainingSetSpec(grace_days=settings.grace_days)
    return write_training_set(build_training_set(sources, spec), spec, sources)


def _ui_hint() -> str:
    from training.tracking import tracking_uri

    return f"MLflow UI: .venv/bin/mlflow ui --backend-store-uri {tracking_uri()}"


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the `churnlens` app."""
    app.command()(train)
    app.command()(evaluate)
    app.command()(models)
    app.command()(promote)
    app.command()(rollback)
