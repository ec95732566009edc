"""Fit the LightGBM model on one time split: train, stop early and calibrate on validation."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.point_in_time.signals import signal_or_family
from training.boosting import Rows, fit_booster
from training.calibration import fit_calibrator
from training.config import TrainConfig
from training.contract import FeatureContract
from training.model import ChurnRiskModel
from training.references import signal_spreads, typical_values
from training.splits import NotEnoughDataError, TimeSplit

log = logging.getLogger(__name__)


def labels(frame: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    return frame["churned"].iloc[rows].astype(bool).to_numpy(dtype=np.float64)


def term_weights(frame: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    """1 / (the row's term's snapshots among `rows`), scaled to mean 1.

    An annual term gives twelve monthly snapshots with one outcome and a monthly term
    gives one; unweighted, long terms dominate and the trees learn their interactions,
    which do not hold out of time. Weighted, every term counts once; the mean of 1 keeps
    `lambda_l2` and `min_child_samples` on their usual scale.
    """
    terms = frame["subscription_id"].iloc[rows]
    weight = 1.0 / terms.groupby(terms, observed=True).transform("size").to_numpy(np.float64)
    return weight * (len(weight) / weight.sum())


def check_trainable(frame: pd.DataFrame, split: TimeSplit, config: TrainConfig) -> None:
    """Refuse splits a model cannot honestly learn from, saying what to do instead."""
    for part in ("train", "validation", "test"):
        rows = getattr(split, part)
        y = labels(frame, rows)
        if len(y) == 0:
            raise NotEnoughDataError(
                f"The {part} rows of {split.name} are empty ({split.describe()}). Build the "
                f"training set over a longer period, or shorten split.test_months / "
                f"split.validation_months in the training config."
            )
        if y.min() == y.max():
            raise NotEnoughDataError(
                f"Every {part} row of {split.name} has the same label "
                f"({'churned' if y[0] else 'renewed'}); a churn model needs both outcomes. "
                f"Use more accounts or a longer period."
            )
    churned = frame.iloc[split.train].loc[lambda f: f["churned"].astype(bool), "subscription_id"]
    terms = churned.nunique()
    if terms < config.guards.min_churned_terms:
        raise NotEnoughDataError(
            f"Only {terms} churned terms in the training rows of {split.name} "
            f"(guards.min_churned_terms = {config.guards.min_churned_terms}). Use more "
            f"accounts or history; lower the guard only if you accept a noisy model."
        )


def lgb_params(config: TrainConfig) -> dict[str, Any]:
    p = config.lightgbm
    return {
        "objective": "binary",
        "num_leaves": p.num_leaves,
        "max_depth": p.max_depth,
        "learning_rate": p.learning_rate,
        "min_child_samples": p.min_child_samples,
        "feature_fraction": p.feature_fraction,
        "bagging_fraction": p.bagging_fraction,
        "bagging_freq": p.bagging_freq,
        "lambda_l2": p.lambda_l2,
        "cat_smooth": p.cat_smooth,
        "min_data_per_group": p.min_data_per_group,
        "seed": config.seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": 2,
        "verbosity": -1,
    }


def fit_model(frame: pd.DataFrame, split: TimeSplit, features: Sequence[str],
              families: Mapping[str, str], catalog_version: str,
              config: TrainConfig) -> ChurnRiskModel:
    """Booster on the train rows, early stopping and calibration on the validation rows."""
    check_trainable(frame, split, config)
    contract = dataclasses.replace(
        FeatureContract.from_frame(frame, features, families),
        references=typical_values(frame, split.train, features))
    matrix = contract.encode(frame)
    cats = contract.categorical_indices
    weight = (term_weights(frame, split.train) if config.lightgbm.weight_by_term else None)
    booster = fit_booster(
        lgb_params(config), Rows(matrix[split.train], labels(frame, split.train), weight),
        Rows(matrix[split.validation], labels(frame, split.validation)), contract.names,
        cats, config.lightgbm.n_estimators, config.lightgbm.early_stopping_rounds)
    log.info("%s: booster kept %d trees", split.name, booster.num_trees())
    raw_valid = booster.predict(matrix[split.validation], raw_score=True)
    calibrator = fit_calibrator(np.asarray(raw_valid), labels(frame, split.validation),
                                config.calibration.method)
    metadata = {
        "split": split.name,
        "train_end": split.train_end.isoformat(),
        "test_start": split.test_start.isoformat(),
        "test_end": split.test_end.isoformat(),
        "best_iteration": int(booster.num_trees()),
        "labels_known_through": split.test_start.isoformat(),
    }
    contract = dataclasses.replace(contract, signal_spreads=explained_spreads(
        booster, matrix[split.train], contract, families))
    return ChurnRiskModel(booster, calibrator, contract, catalog_version, metadata)


def explained_spreads(booster: lgb.Booster, matrix: np.ndarray, contract: FeatureContract,
                      families: Mapping[str, str]) -> dict[str, float]:
    """Each signal's usual spread of push over the rows the booster learnt from."""
    explained = booster.predict(matrix, pred_contrib=True, num_threads=2)
    return signal_spreads(np.asarray(explained)[:, :-1], contract.names,
                          lambda name: signal_or_family(name, families.get(name, "other")))
