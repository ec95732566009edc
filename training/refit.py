"""Refit the model that ships on every label known at training time.

The strict cutoff model learns only from labels resolved before its validation window,
so that its test rows say honestly how it ranks out of time. The model that serves may
know more: every term already decided when training runs, including the validation and
test windows, the most recent and most relevant behaviour there is. So after the strict
evaluation the champion is refitted on all resolved rows, with the strict model's
settings and its early-stopped tree count scaled to the number of rows (the validation
set that stopped it is now training data, so nothing can stop the refit itself).

Its calibrator must still learn from scores of rows the scoring booster never saw. The
resolved rows are cut by resolution time into `folds` chunks; for each chunk after the
first, a booster trained on the rows resolved before the chunk scores the chunk (forward
chaining, as a later scoring run would see them). A term's rows share one resolution
time, so a term is never on both sides. The calibrator is fitted on those out-of-fold
scores and then maps the refitted booster's scores. Whether the refit's ranking and
calibration hold on a later window is measured by `bench/refit.py`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd

from training.boosting import Rows, fit_booster
from training.calibration import fit_calibrator
from training.config import TrainConfig
from training.contract import FeatureContract
from training.fit import explained_spreads, labels, lgb_params, term_weights
from training.model import ChurnRiskModel
from training.references import typical_values

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CalibrationFold:
    """One forward-chaining step: a booster on `train` rows scores the `scored` rows."""

    train: np.ndarray  # row positions, labels resolved by `boundary`
    scored: np.ndarray  # row positions, labels resolved after it (up to the next boundary)
    boundary: pd.Timestamp


@dataclass(frozen=True)
class Refit:
    """The refitted model and how it was made (logged to MLflow and the report)."""

    model: ChurnRiskModel
    rows: int
    trees: int
    calibration_rows: int
    folds: int
    # The rows the calibrator learnt from and their calibrated out-of-fold probabilities:
    # scores of rows their booster never saw, as a scoring run's are.
    held_out: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0, np.int64))
    held_out_probability: np.ndarray = dataclasses.field(
        default_factory=lambda: np.empty(0, np.float64))

    def describe(self) -> str:
        return (f"refit on all {self.rows:,} resolved rows with {self.trees} trees, "
                f"calibrated on {self.calibration_rows:,} out-of-fold scores "
                f"({self.folds} forward-chaining folds)")


def resolved_rows(frame: pd.DataFrame) -> np.ndarray:
    """Row positions whose label is known (every labelled row is resolved by now)."""
    return np.flatnonzero(frame["churned"].notna().to_numpy())


def calibration_folds(frame: pd.DataFrame, rows: np.ndarray, folds: int
                      ) -> list[CalibrationFold]:
    """Cut `rows` by label resolution time into `folds` chunks of about equal size; each
    chunk after the first is scored by a booster of the rows resolved before it."""
    resolved = pd.to_datetime(frame["label_resolved_at"].iloc[rows], utc=True).to_numpy()
    order = np.sort(resolved)
    cuts = [order[int(len(order) * k / folds)] for k in range(1, folds)]
    bounds = [*cuts, None]
    out = []
    for start, end in zip(cuts, bounds[1:], strict=True):
        train = rows[resolved < start]
        chunk = (resolved >= start) if end is None else (resolved >= start) & (resolved < end)
        if len(train) and chunk.any():
            out.append(CalibrationFold(train, rows[chunk], pd.Timestamp(start)))
    return out


def scaled_trees(best_iteration: int, strict_rows: int, rows: int, config: TrainConfig) -> int:
    """The strict model's early-stopped tree count, scaled to `rows` training rows."""
    scaled = round(best_iteration * rows / max(strict_rows, 1))
    return int(min(max(scaled, 1), config.lightgbm.n_estimators))


def refit_model(frame: pd.DataFrame, strict: ChurnRiskModel, strict_rows: int,
                features: Sequence[str], families: Mapping[str, str],
                config: TrainConfig) -> Refit | None:
    """The strict model's recipe on every resolved row; None when no calibration fold has
    both outcomes (the strict model then ships, and the caller says so)."""
    rows = resolved_rows(frame)
    best = int(strict.metadata["best_iteration"])
    contract = dataclasses.replace(strict.contract,
                                   references=typical_values(frame, rows, features))
    matrix = contract.encode(frame)
    raw, outcome, scored = [], [], []
    plan = calibration_folds(frame, rows, config.refit.calibration_folds)
    for fold in plan:
        y = labels(frame, fold.train)
        if y.min() == y.max():
            continue
        booster = _booster(frame, matrix, fold.train, contract,
                           scaled_trees(best, strict_rows, len(fold.train), config), config)
        raw.append(np.asarray(booster.predict(matrix[fold.scored], raw_score=True)))
        outcome.append(labels(frame, fold.scored))
        scored.append(fold.scored)
    if not raw or np.concatenate(outcome).min() == np.concatenate(outcome).max():
        log.warning("refit skipped: no calibration fold has both outcomes")
        return None
    trees = scaled_trees(best, strict_rows, len(rows), config)
    booster = _booster(frame, matrix, rows, contract, trees, config)
    calibrator = fit_calibrator(np.concatenate(raw), np.concatenate(outcome),
                                config.calibration.method)
    contract = dataclasses.replace(contract, signal_spreads=explained_spreads(
        booster, matrix[rows], contract, families))
    metadata = {**strict.metadata, "best_iteration": trees, "refit": True,
                "refit_rows": len(rows), "strict_trees": best,
                "labels_known_through": _latest(frame, rows)}
    result = Refit(ChurnRiskModel(booster, calibrator, contract, strict.catalog_version,
                                  metadata),
                   len(rows), trees, sum(len(r) for r in raw), len(raw),
                   np.concatenate(scored), calibrator.apply(np.concatenate(raw)))
    log.info("%s", result.describe())
    return result


def _booster(frame: pd.DataFrame, matrix: np.ndarray, rows: np.ndarray,
             contract: FeatureContract, trees: int, config: TrainConfig) -> lgb.Booster:
    weight = term_weights(frame, rows) if config.lightgbm.weight_by_term else None
    return fit_booster(lgb_params(config), Rows(matrix[rows], labels(frame, rows), weight),
                       None, contract.names, contract.categorical_indices, trees)


def _latest(frame: pd.DataFrame, rows: np.ndarray) -> str:
    return pd.Timestamp(pd.to_datetime(frame["label_resolved_at"].iloc[rows], utc=True).max()
                        ).isoformat()
