"""Benchmark the model's gap to the oracle at as_of: how much of it is seed noise, and how
much the features could close at all.

1. Seeds. Trains and evaluates as `churnlens train` does (cutoff split and backtest
   folds) once per `--seeds` value, and prints per split the model's ROC AUC, the as-of
   oracle's and the gap. LightGBM's row and feature sampling make the seed matter.
2. Information reference. A LightGBM regression learns each training row's *oracle
   logit* (the simulator's as-of truth, which no real model has) from the same features,
   and ranks the cutoff test rows. It learns from the noise-free risk instead of one
   churn outcome per term, so it is a generous reference for what the features carry;
   a model trained on outcomes can only approach it.

`--without PATTERN ...` drops the feature columns whose names fully match any pattern
before both, to measure what a group of features adds on the same rows (for example the
fingerprint readers: `'busiest_user_.*' '.*_pace_28d_vs_90d' ticket_surge_ratio
seat_change_ratio days_since_budget_note`).

Needs simulated data with `_truth/risk_as_of.parquet`.

    .venv/bin/python bench/oracle_gap.py \
        --training-set /tmp/demo_asof/training_sets/default/HASH.parquet --seeds 7 8 9
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from features.point_in_time.artifacts import read_training_set
from features.point_in_time.catalog import feature
from training.config import load_config
from training.contract import FeatureContract
from training.evaluation import DTR_BUCKETS, dtr_bucket
from training.pipeline import (
    Truth,
    load_truth,
    model_features,
    oracle_probabilities,
    train_and_evaluate,
)
from training.splits import plan_splits

REFERENCE_PARAMS = {"objective": "regression", "learning_rate": 0.05, "num_leaves": 15,
                    "min_child_samples": 50, "num_threads": 2, "verbosity": -1, "seed": 1}
REFERENCE_ROUNDS = 600


def seed_gaps(frame: pd.DataFrame, truth: Truth, seeds: list[int]) -> None:
    config = load_config()
    print("seed  split         model  oracle    gap")
    for seed in seeds:
        result = train_and_evaluate(frame, config.model_copy(update={"seed": seed}), truth)
        gaps = []
        for split in (result.cutoff, *result.folds):
            ev = split.evaluation
            model, oracle = ev.metric("model", "roc_auc"), ev.oracle_auc_as_of
            gaps.append(oracle - model)
            print(f"{seed:4d}  {split.split.name:<12} {model:6.4f}  {oracle:6.4f}  {gaps[-1]:6.4f}")
        print(f"{seed:4d}  mean gap over {len(gaps)} splits: {np.mean(gaps):.4f}")


def information_reference(frame: pd.DataFrame, truth: Truth) -> None:
    split = plan_splits(frame, load_config().split)[0]
    features = model_features(frame)
    contract = FeatureContract.from_frame(frame, features,
                                          {n: feature(n).family for n in features})
    matrix = contract.encode(frame)
    logits = {}
    for name, rows in (("train", split.train), ("test", split.test)):
        _, p_as_of, note = oracle_probabilities(frame.iloc[rows], truth)
        if p_as_of is None:
            sys.exit(f"no as-of truth for the {name} rows: {note or 'simulate again'}")
        clipped = np.clip(p_as_of, 1e-6, 1 - 1e-6)
        logits[name] = np.log(clipped / (1 - clipped))
    booster = lgb.train(REFERENCE_PARAMS,
                        lgb.Dataset(matrix[split.train], logits["train"],
                                    categorical_feature=contract.categorical_indices),
                        REFERENCE_ROUNDS)
    test = frame.iloc[split.test]
    labelled = test["churned"].notna().to_numpy()
    y = test["churned"].to_numpy()[labelled].astype(int)
    reference = booster.predict(matrix[split.test])[labelled]
    oracle = logits["test"][labelled]
    buckets = dtr_bucket(test["days_to_renewal"]).to_numpy()[labelled]
    print(f"\ncutoff test rows ({split.describe()})")
    print(f"{'ROC AUC':<48}{'all':>8}" + "".join(f"{b:>8}" for _, _, b in DTR_BUCKETS))
    for name, score in (("regression on the oracle logit (reference)", reference),
                        ("oracle at as_of", oracle)):
        cells = [roc_auc_score(y, score)]
        cells += [roc_auc_score(y[buckets == b], score[buckets == b]) for _, _, b in DTR_BUCKETS]
        print(f"{name:<48}" + "".join(f"{c:8.4f}" for c in cells))


def without_features(frame: pd.DataFrame, patterns: list[str]) -> pd.DataFrame:
    """The frame less the feature columns any pattern fully matches; says which went."""
    compiled = [re.compile(p) for p in patterns]
    dropped = [c for c in model_features(frame) if any(p.fullmatch(c) for p in compiled)]
    if not dropped:
        sys.exit(f"no feature matches {' '.join(patterns)}")
    print(f"without {len(dropped)} features: {', '.join(dropped)}")
    return frame.drop(columns=dropped)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--training-set", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="*", default=[7, 8, 9],
                        help="training seeds to compare (default: 7 8 9; 7 is the config's)")
    parser.add_argument("--without", nargs="*", default=[], metavar="PATTERN",
                        help="drop the features whose names fully match these regexes")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    frame, manifest = read_training_set(args.training_set)
    if args.without:
        frame = without_features(frame, args.without)
    truth = load_truth(manifest)
    if truth is None or truth.as_of is None:
        sys.exit("the training set's sources have no _truth/risk_as_of.parquet: simulate "
                 "them again with this version of churnlens")
    seed_gaps(frame, truth, args.seeds)
    information_reference(frame, truth)


if __name__ == "__main__":
    main()
