"""Benchmark the refit: does the champion refitted on every known label rank and calibrate
at least as well as the strict cutoff model on a later window neither has seen?

For each `--as-of` date T the training set is cut to what was known then: snapshots
before T, and labels resolved by T (later ones become unknown). `train_and_evaluate`
fits the strict cutoff model and its refit on that; both then score the snapshots of
the `--months` after T, whose outcomes the full training set knows. Prints ROC AUC,
ECE and Brier of both per date and seed, and the means.

    .venv/bin/python bench/refit.py \
        --training-set /tmp/ws20/training_sets/default/HASH.parquet \
        --as-of 2025-03-01 2025-05-01 2025-07-01 --seeds 7 8
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from features.point_in_time.artifacts import read_training_set
from training.config import load_config
from training.metrics import evaluate_scores
from training.pipeline import load_truth, oracle_probabilities, train_and_evaluate
from training.splits import as_known_at

METRICS = ("roc_auc", "ece", "brier")


def later_window(frame: pd.DataFrame, when: pd.Timestamp, months: int) -> pd.DataFrame:
    end = when + pd.DateOffset(months=months)
    rows = frame[(frame["as_of"] >= when) & (frame["as_of"] < end)]
    return rows[rows["churned"].notna()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--training-set", type=Path, required=True)
    parser.add_argument("--as-of", nargs="+", required=True,
                        help="training dates T, YYYY-MM-DD")
    parser.add_argument("--months", type=int, default=3, help="later window length")
    parser.add_argument("--seeds", type=int, nargs="*", default=[7])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    frame, manifest = read_training_set(args.training_set)
    truth = load_truth(manifest)
    base = load_config()
    base = base.model_copy(update={"split": base.split.model_copy(
        update={"backtest_folds": 0})})
    print(f"{'trained at':<12}{'seed':>5}{'rows':>9}{'trees':>12}  "
          + "".join(f"{m + ' ' + w:>14}" for m in METRICS for w in ("strict", "refit"))
          + f"{'oracle as_of':>14}")
    totals: dict[str, list[float]] = {}
    for text in args.as_of:
        when = pd.Timestamp(text, tz="UTC")
        later = later_window(frame, when, args.months)
        if later.empty or later["churned"].nunique() < 2:
            sys.exit(f"no labelled snapshots with both outcomes in the {args.months} months "
                     f"after {text}")
        y = later["churned"].astype(bool).to_numpy(np.float64)
        for seed in args.seeds:
            result = train_and_evaluate(as_known_at(frame, when),
                                        base.model_copy(update={"seed": seed}))
            if result.refit is None:
                sys.exit(f"{text}: the refit was skipped")
            cells = {}
            for name, model in (("strict", result.strict_model), ("refit", result.model)):
                scores = evaluate_scores(y, model.predict_proba(later))
                for metric in METRICS:
                    cells[f"{metric}.{name}"] = scores[metric]
                    totals.setdefault(f"{metric}.{name}", []).append(scores[metric])
            _, as_of, _ = oracle_probabilities(later.reset_index(drop=True), truth)
            oracle = (evaluate_scores(y, as_of)["roc_auc"] if as_of is not None
                      else float("nan"))
            totals.setdefault("oracle", []).append(oracle)
            trees = (f"{result.strict_model.metadata['best_iteration']}->"
                     f"{result.refit.trees}")
            print(f"{text:<12}{seed:>5}{len(later):>9,}{trees:>12}  "
                  + "".join(f"{cells[f'{m}.{w}']:14.4f}" for m in METRICS
                            for w in ("strict", "refit")) + f"{oracle:14.4f}")
    print(f"{'mean':<40}" + "".join(f"{np.mean(totals[f'{m}.{w}']):14.4f}" for m in METRICS
                                     for w in ("strict", "refit"))
          + f"{np.mean(totals['oracle']):14.4f}")


if __name__ == "__main__":
    main()
