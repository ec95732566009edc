"""Metrics a churn model is judged by, including the ones a ranked-list user reads.

Lift and recall at the top k% answer "if CSMs work the top 10% of the list, how many of
the accounts that will leave do they reach?"; the share of churned ARR captured there is
the same question in money. Every metric is NaN where it is undefined (one class only).
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

METRICS = ("roc_auc", "pr_auc", "log_loss", "brier", "ece", "lift_at_10", "lift_at_20",
           "recall_at_10", "recall_at_20", "churned_arr_captured_at_10")
# Metrics where a larger value is better; the rest are losses.
HIGHER_IS_BETTER = frozenset({"roc_auc", "pr_auc", "lift_at_10", "lift_at_20",
                              "recall_at_10", "recall_at_20", "churned_arr_captured_at_10"})


def _top(score: np.ndarray, share: float) -> np.ndarray:
    """Indices of the top `share` of rows by score (ties broken by position, stably)."""
    k = max(1, math.ceil(len(score) * share))
    return np.argsort(-score, kind="stable")[:k]


def lift_at(y: np.ndarray, score: np.ndarray, share: float) -> float:
    """Churn rate in the top `share` over the overall churn rate."""
    base = y.mean()
    return float(y[_top(score, share)].mean() / base) if base > 0 else math.nan


def recall_at(y: np.ndarray, score: np.ndarray, share: float) -> float:
    """Share of all churners found in the top `share`."""
    total = y.sum()
    return float(y[_top(score, share)].sum() / total) if total > 0 else math.nan


def arr_captured_at(y: np.ndarray, score: np.ndarray, arr: np.ndarray, share: float) -> float:
    """Share of churned ARR that sits in the top `share` of the list."""
    churned_arr = (arr * y).sum()
    top = _top(score, share)
    return float((arr[top] * y[top]).sum() / churned_arr) if churned_arr > 0 else math.nan


def expected_calibration_error(y: np.ndarray, prob: np.ndarray, bins: int = 10) -> float:
    """Mean |observed rate - mean prediction| over equal-width bins, weighted by size."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(prob, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(y[mask].mean() - prob[mask].mean())
    return float(total / len(y))


def evaluate_scores(y: np.ndarray, prob: np.ndarray, arr: np.ndarray | None = None
                    ) -> dict[str, float]:
    """Every metric of METRICS for one set of rows."""
    y = np.asarray(y, dtype=np.float64)
    prob = np.clip(np.asarray(prob, dtype=np.float64), 1e-6, 1 - 1e-6)
    both = 0 < y.sum() < len(y)
    out = {
        "roc_auc": float(roc_auc_score(y, prob)) if both else math.nan,
        "pr_auc": float(average_precision_score(y, prob)) if both else math.nan,
        "log_loss": float(log_loss(y, prob, labels=[0, 1])) if len(y) else math.nan,
        "brier": float(brier_score_loss(y, prob)) if len(y) else math.nan,
        "ece": expected_calibration_error(y, prob) if len(y) else math.nan,
        "lift_at_10": lift_at(y, prob, 0.10),
        "lift_at_20": lift_at(y, prob, 0.20),
        "recall_at_10": recall_at(y, prob, 0.10),
        "recall_at_20": recall_at(y, prob, 0.20),
        "churned_arr_captured_at_10": (arr_captured_at(y, prob, np.asarray(arr, float), 0.10)
                                       if arr is not None else math.nan),
    }
    return out
