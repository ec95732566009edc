"""Benchmark training: wall time of a full run, and what the default config costs and
saves against an unconstrained LightGBM on the same rows.

Prints the time to train and evaluate (cutoff split plus backtest folds, both
baselines), the cutoff test ROC AUC of the model, the baselines and, on simulated data,
both oracles (at as_of: the true risk given the world before the snapshot; at decision:
the true probability at renewal, which knows the months after it), overall and per
days-to-renewal bucket; then for the default and an unconstrained config (31 leaves, no
depth limit, up to 1,000 trees): test ROC AUC, trees kept, and the single-threaded cost
of one exact explanation (`pred_contrib` on one row), as the median over many rows.

    .venv/bin/python bench/train.py --training-set workspace/training_sets/default/HASH.parquet
"""

from __future__ import annotations

import argparse
import logging
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from features.point_in_time.artifacts import latest_training_set, read_training_set
from training.config import load_config
from training.evaluation import DTR_BUCKETS, ORACLES, Evaluation
from training.pipeline import SCORERS, load_truth, train_and_evaluate

UNCONSTRAINED = {"num_leaves": 31, "max_depth": -1, "n_estimators": 1000,
                 "min_child_samples": 20}


def explain_cost_ms(model, matrix: np.ndarray, rows: int = 300) -> float:
    """Median milliseconds for one single-row, single-threaded exact explanation."""
    times = []
    for i in range(min(rows, len(matrix))):
        row = matrix[i:i + 1]
        started = time.perf_counter()
        model.explain_matrix(row, num_threads=1)
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def print_auc_table(ev: Evaluation) -> None:
    """Test ROC AUC of every scorer and oracle, overall and per days-to-renewal bucket."""
    slices = [("all", "all"), *(("days_to_renewal", label) for _, _, label in DTR_BUCKETS)]
    print(f"{'test ROC AUC':<40}" + "".join(f"{value:>9}" for _, value in slices))
    for scorer in SCORERS:
        print(f"  {scorer:<38}" + "".join(f"{ev.metric(scorer, 'roc_auc', *s):9.4f}"
                                          for s in slices))
    for name, label in ORACLES.items():
        print(f"  {label:<38}" + "".join(f"{ev.oracle(name, *s):9.4f}" for s in slices))
    for note in ev.notes:
        print(f"note: {note}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--training-set", type=Path, default=None,
                        help="default: the latest in ./workspace/training_sets/default")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    path = args.training_set or latest_training_set(workspace=Path("workspace"))
    frame, manifest = read_training_set(path)
    truth = load_truth(manifest)
    config = load_config()

    started = time.perf_counter()
    result = train_and_evaluate(frame, config, truth)
    elapsed = time.perf_counter() - started
    print(f"training set   {path} ({len(frame):,} rows)")
    print(f"train+evaluate {elapsed:8.1f} s  (cutoff + {len(result.folds)} backtest folds, "
          f"model and both baselines)")
    print_auc_table(result.cutoff.evaluation)

    loose = config.model_copy(update={
        "split": config.split.model_copy(update={"backtest_folds": 0}),
        "lightgbm": config.lightgbm.model_copy(update=UNCONSTRAINED)})
    for name, cfg in (("default", config), ("unconstrained", loose)):
        res = result if name == "default" else train_and_evaluate(frame, cfg, truth)
        model = res.model
        matrix = model.contract.encode(frame.iloc[res.cutoff.split.test])
        auc = res.cutoff.evaluation.metric("model", "roc_auc")
        cost = explain_cost_ms(model, matrix)
        trees = model.booster.num_trees()
        print(f"{name:<14} AUC {auc:.4f}  trees {trees:4d}  leaves {cfg.lightgbm.num_leaves:3d}  "
              f"depth {cfg.lightgbm.max_depth:3d}  explain 1 row {cost:.3f} ms")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS       {peak:8.0f} MiB")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
