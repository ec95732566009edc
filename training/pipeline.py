"""Train and judge a model out of time: the cutoff split, the backtest, and the baselines.

For every split the model and both baselines are fitted on the same rows and scored on
the same later test rows, so the comparison is fair. The model that ships is the one of
the cutoff split: its test rows lie after everything it learnt from, and its numbers are
the ones reported and compared with the champion.

On simulated sources the simulator's `_truth/` gives the oracles on the same test rows
(see `training.evaluation`): each term's churn probability at its renewal decision, and
each snapshot's risk at its as_of.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.point_in_time.catalog import CATALOG_VERSION, feature
from features.point_in_time.spine import IDENTITY_COLUMNS
from training.baselines import HealthScoreBaseline, LogisticBaseline
from training.config import SplitConfig, TrainConfig
from training.evaluation import ORACLES, Evaluation, backtest_summary, evaluate
from training.fit import fit_model, labels
from training.model import ChurnRiskModel
from training.profile import build_profile, split_thresholds
from training.refit import Refit, refit_model
from training.splits import NotEnoughDataError, TimeSplit, plan_splits, resolve_split

log = logging.getLogger(__name__)

SCORERS = ("model", "health_score", "logistic")
# Columns the evaluation slices by; kept with the test rows.
SLICE_COLUMNS = ("segment", "days_to_renewal", "arr")


@dataclass
class SplitResult:
    """One split's fitted model and the three scorers' probabilities on its test rows."""

    split: TimeSplit
    model: ChurnRiskModel
    rows: pd.DataFrame  # identity and slice columns of the test rows
    scores: dict[str, np.ndarray]
    evaluation: Evaluation
    contributions: pd.Series  # mean |contribution| per feature on the test rows

    @property
    def y(self) -> np.ndarray:
        return self.rows["churned"].astype(bool).to_numpy(dtype=np.float64)


@dataclass
class TrainingResult:
    cutoff: SplitResult
    folds: list[SplitResult]
    backtest: pd.DataFrame
    contributions: pd.Series  # the cutoff model's, on its test rows
    notes: list[str] = field(default_factory=list)
    split_config: SplitConfig | None = None  # the split as planned, "auto" resolved
    refit: Refit | None = None  # the cutoff recipe on every resolved row

    @property
    def model(self) -> ChurnRiskModel:
        """The model that ships: the refit when there is one, else the strict model."""
        return self.refit.model if self.refit is not None else self.cutoff.model

    @property
    def strict_model(self) -> ChurnRiskModel:
        """The cutoff model the test window judges (what the gate compares)."""
        return self.cutoff.model

    def beats_baselines(self, metric: str = "roc_auc") -> bool:
        ev = self.cutoff.evaluation
        model = ev.metric("model", metric)
        return all(model > ev.metric(b, metric) for b in SCORERS if b != "model")


@dataclass(frozen=True)
class Truth:
    """The simulator's hidden truth about the rows of a training set.

    `terms`: subscription_id, p_churn (at the renewal decision). `as_of`: subscription_id,
    as_of, p_churn_as_of (the risk given the world before as_of), or None for simulated
    data written before the simulator kept it.
    """

    terms: pd.DataFrame
    as_of: pd.DataFrame | None = None


TRUTH_DIR = "_truth"  # as the simulator writes it (features.simulator.runner), not imported:
# that would load the whole simulator with every training run


def load_truth(manifest: dict[str, Any]) -> Truth | None:
    """The truth of the training set's sources, when they were simulated; else None."""
    location = manifest.get("sources", {}).get("location", "")
    directory = Path(location) / TRUTH_DIR
    if not location or not (directory / "terms.parquet").is_file():
        return None
    terms = pd.read_parquet(directory / "terms.parquet", columns=["subscription_id", "p_churn"])
    as_of_path = directory / "risk_as_of.parquet"
    as_of = (pd.read_parquet(as_of_path, columns=["subscription_id", "as_of", "p_churn_as_of"])
             if as_of_path.is_file() else None)
    return Truth(terms, as_of)


def model_features(frame: pd.DataFrame) -> list[str]:
    """The training set's feature columns, in file (catalog) order."""
    return [c for c in frame.columns if c not in IDENTITY_COLUMNS]


def train_and_evaluate(frame: pd.DataFrame, config: TrainConfig,
                       truth: Truth | pd.DataFrame | None = None) -> TrainingResult:
    """Fit and evaluate on the cutoff split and every backtest fold.

    `truth` (from `load_truth`, optional) gives the oracles on the same test rows; a
    bare frame of `_truth/terms` gives the oracle at decision only.
    """
    if isinstance(truth, pd.DataFrame):
        truth = Truth(truth)
    features = model_features(frame)
    families = {name: feature(name).family for name in features}
    split_config = resolve_split(frame, config.split)
    splits = plan_splits(frame, split_config)
    results: list[SplitResult] = []
    notes: list[str] = []
    for split in splits:
        log.info("fitting %s", split.describe())
        try:
            results.append(_fit_split(frame, split, features, families, config, truth))
        except NotEnoughDataError as exc:
            if not results:
                raise
            notes.append(f"Backtest stopped before {split.name}: {exc.message}")
            log.warning("backtest stops before %s: %s", split.name, exc.message)
            break
    cutoff, folds = results[0], results[1:]
    notes[:0] = [f"Split {r.split.describe()}" for r in results]
    if len(folds) < config.split.backtest_folds:
        notes.append(f"Only {len(folds)} of {config.split.backtest_folds} backtest folds fit "
                     "in the history; earlier windows have no training rows.")
    backtest = (backtest_summary([f.evaluation for f in folds]) if folds
                else pd.DataFrame())
    refit = None
    if config.refit.enabled:
        refit = refit_model(frame, cutoff.model, len(cutoff.split.train), features, families,
                            config)
        notes.append(f"The model that ships is the cutoff recipe {refit.describe()}; the "
                     "test metrics are the strict cutoff model's." if refit is not None else
                     "The refit was skipped (no calibration fold has both outcomes); the "
                     "strict cutoff model ships.")
    result = TrainingResult(cutoff, folds, backtest, cutoff.contributions, notes,
                            split_config, refit)
    attach_profile(frame, result)
    return result


# The backtest metrics monitoring compares realised performance with.
PROFILE_METRICS = ("roc_auc", "pr_auc", "brier", "ece", "lift_at_10")
REFERENCE_MONTHS = 6  # the newest months of snapshots the reference profile describes


def attach_profile(frame: pd.DataFrame, result: TrainingResult) -> None:
    """Give the model that ships (and the strict one) its reference profile.

    The reference is the newest REFERENCE_MONTHS months of snapshots, labelled or not: the
    accounts as they stood when the model was trained, the population its first scoring
    runs meet. Their scores come from boosters that did not learn from them: the refit's
    out-of-fold score for a row whose label it calibrated on, the model's own for a row
    whose label is not known yet (no booster trained on it). The churn rate to compare
    mean probabilities with is the cutoff test rows', the newest resolved out of time.
    """
    as_of = pd.to_datetime(frame["as_of"], utc=True)
    newest = as_of.max()
    rows = np.flatnonzero((as_of > newest - pd.DateOffset(months=REFERENCE_MONTHS)).to_numpy())
    model = result.model
    probability = model.predict_proba(frame.iloc[rows])
    if result.refit is not None and len(result.refit.held_out):
        where = pd.Series(np.arange(len(rows)), index=rows)
        inside = np.isin(result.refit.held_out, rows)
        probability[where[result.refit.held_out[inside]].to_numpy()] = \
            result.refit.held_out_probability[inside]
    backtest: dict[str, dict[str, float]] = {}
    model_rows = (result.backtest[result.backtest["scorer"] == "model"]
                  if len(result.backtest) else result.backtest)
    for metric in PROFILE_METRICS:
        if len(model_rows):
            backtest[metric] = {"mean": float(model_rows[f"{metric}_mean"].iloc[0]),
                                "std": float(model_rows[f"{metric}_std"].iloc[0]),
                                "folds": float(len(result.folds))}
    profile = build_profile(frame, rows, model.contract, probability,
                            thresholds=split_thresholds(model.booster),
                            importance=result.contributions.to_dict(),
                            churn_rate=float(result.cutoff.y.mean()), backtest=backtest)
    for each in (result.model, result.strict_model):
        each.profile = profile


def _fit_split(frame: pd.DataFrame, split: TimeSplit, features: list[str],
               families: Mapping[str, str], config: TrainConfig,
               truth: Truth | None) -> SplitResult:
    model = fit_model(frame, split, features, families, CATALOG_VERSION, config)
    train, valid, test = (frame.iloc[split.train], frame.iloc[split.validation],
                          frame.iloc[split.test])
    health = HealthScoreBaseline().fit(valid, labels(frame, split.validation),
                                       config.calibration.method)
    categorical = list(model.contract.categories)
    logistic = LogisticBaseline(features, categorical, seed=config.seed).fit(
        train, labels(frame, split.train))
    scores = {
        "model": model.predict_proba(test),
        "health_score": health.predict_proba(test),
        "logistic": logistic.predict_proba(test),
    }
    keep = [c for c in (*IDENTITY_COLUMNS, *SLICE_COLUMNS) if c in test.columns]
    rows = test[keep].reset_index(drop=True)
    evaluation = evaluate_with_truth(rows, scores, truth)
    log.info("%s: test ROC AUC model %.3f, health score %.3f, logistic %.3f%s", split.name,
             *(evaluation.metric(s, "roc_auc") for s in SCORERS),
             "".join(f", {label} {evaluation.oracle(name):.3f}"
                     for name, label in ORACLES.items()
                     if math.isfinite(evaluation.oracle(name))))
    contributions = pd.Series(
        np.abs(model.explain(test).contributions).mean(axis=0), index=list(model.contract.names)
    ).sort_values(ascending=False)
    return SplitResult(split, model, rows, scores, evaluation, contributions)


def evaluate_with_truth(rows: pd.DataFrame, scores: dict[str, np.ndarray],
                        truth: Truth | None) -> Evaluation:
    """`evaluate` plus, when `truth` is given, both oracles on the same rows."""
    at_decision, as_of, note = oracle_probabilities(rows, truth)
    evaluation = evaluate(rows, scores, at_decision, as_of)
    if note:
        evaluation.notes.append(note)
    return evaluation


def oracle_probabilities(rows: pd.DataFrame, truth: Truth | None
                         ) -> tuple[np.ndarray | None, np.ndarray | None, str]:
    """Each row's true churn probability at decision and at its as_of, and a note when
    the as-of truth does not cover every row (then it is not used)."""
    if truth is None or "p_churn" not in truth.terms:
        return None, None, ""
    p = truth.terms.drop_duplicates("subscription_id").set_index("subscription_id")["p_churn"]
    at_decision = rows["subscription_id"].astype(str).map(p).astype("float64").to_numpy()
    if truth.as_of is None or "as_of" not in rows:
        return at_decision, None, ""
    keys = ["subscription_id", "as_of"]
    table = truth.as_of[[*keys, "p_churn_as_of"]].drop_duplicates(keys).assign(
        subscription_id=lambda t: t["subscription_id"].astype(str),
        as_of=lambda t: pd.to_datetime(t["as_of"], utc=True).dt.as_unit("ns"))
    wanted = pd.DataFrame({
        "subscription_id": rows["subscription_id"].astype(str).reset_index(drop=True),
        "as_of": pd.to_datetime(rows["as_of"], utc=True).dt.as_unit("ns").reset_index(drop=True),
    })
    as_of = wanted.merge(table, on=keys, how="left")["p_churn_as_of"].to_numpy(np.float64)
    missing = int(np.isnan(as_of).sum())
    if not missing:
        return at_decision, as_of, ""
    return at_decision, None, (
        f"The simulator's as-of truth covers {len(as_of) - missing:,} of {len(as_of):,} "
        "test rows (it is kept for the monthly snapshot grid), so the oracle at as_of is "
        "left out.")
