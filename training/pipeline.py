"""Train and judge a model out of time: the cutoff split, the backtest, and the baselines.

For every split the model and both baselines are fitted on the same rows and scored on
the same later test rows, so the comparison is fair. The model that ships is the one of
the cutoff split: its test rows lie after everything it learnt from, and its numbers are
the ones reported and compared with the champion.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.catalog import CATALOG_VERSION, feature
from features.spine import IDENTITY_COLUMNS
from training.baselines import HealthScoreBaseline, LogisticBaseline
from training.config import TrainConfig
from training.evaluation import Evaluation, backtest_summary, evaluate
from training.fit import fit_model, labels
from training.model import ChurnRiskModel
from training.splits import NotEnoughDataError, TimeSplit, plan_splits

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

    @property
    def model(self) -> ChurnRiskModel:
        return self.cutoff.model

    def beats_baselines(self, metric: str = "roc_auc") -> bool:
        ev = self.cutoff.evaluation
        model = ev.metric("model", metric)
        return all(model > ev.metric(b, metric) for b in SCORERS if b != "model")


def model_features(frame: pd.DataFrame) -> list[str]:
    """The training set's feature columns, in file (catalog) order."""
    return [c for c in frame.columns if c not in IDENTITY_COLUMNS]


def train_and_evaluate(frame: pd.DataFrame, config: TrainConfig,
                       truth: pd.DataFrame | None = None) -> TrainingResult:
    """Fit and evaluate on the cutoff split and every backtest fold.

    `truth` (the simulator's `_truth/terms`, optional) gives each subscription's true
    churn probability, for the oracle AUC on the same test rows.
    """
    features = model_features(frame)
    families = {name: feature(name).family for name in features}
    splits = plan_splits(frame, config.split)
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
    return TrainingResult(cutoff, folds, backtest, cutoff.contributions, notes)


def _fit_split(frame: pd.DataFrame, split: TimeSplit, features: list[str],
               families: Mapping[str, str], config: TrainConfig,
               truth: pd.DataFrame | None) -> SplitResult:
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
    evaluation = evaluate(rows, scores, _oracle(rows, truth))
    log.info("%s: test ROC AUC model %.3f, health score %.3f, logistic %.3f%s", split.name,
             *(evaluation.metric(s, "roc_auc") for s in SCORERS),
             "" if math.isnan(evaluation.oracle_auc)
             else f", oracle {evaluation.oracle_auc:.3f}")
    contributions = pd.Series(
        np.abs(model.explain(test).contributions).mean(axis=0), index=list(model.contract.names)
    ).sort_values(ascending=False)
    return SplitResult(split, model, rows, scores, evaluation, contributions)


def _oracle(rows: pd.DataFrame, truth: pd.DataFrame | None) -> np.ndarray | None:
    """The true churn probability of each row's term, when the data is simulated."""
    if truth is None or "p_churn" not in truth:
        return None
    p = truth.drop_duplicates("subscription_id").set_index("subscription_id")["p_churn"]
    return rows["subscription_id"].astype(str).map(p).astype("float64").to_numpy()
