"""Side-by-side evaluation of the model and its baselines on the same out-of-time rows.

Every metric is given overall, per segment and per days-to-renewal bucket, because a
model that is good on average can still be useless for the accounts renewing next
quarter, the ones CSMs can still save.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from training.metrics import METRICS, evaluate_scores

DTR_BUCKETS = ((0, 90, "0-90"), (91, 180, "91-180"), (181, 100_000, "181+"))


def dtr_bucket(days_to_renewal: pd.Series) -> pd.Series:
    """Days-to-renewal buckets 0-90, 91-180 and 181+ (days rounded down)."""
    days = days_to_renewal.astype("float64").to_numpy()
    out = np.full(len(days), "unknown", dtype=object)
    for low, high, label in DTR_BUCKETS:
        out[(days >= low) & (days <= high)] = label
    return pd.Series(out, index=days_to_renewal.index)


@dataclass
class Evaluation:
    """Metrics per scorer and slice: a long table with one row per (scorer, slice, value)."""

    table: pd.DataFrame  # columns: scorer, slice, value, rows, churned, <METRICS>
    oracle_auc: float = math.nan
    notes: list[str] = field(default_factory=list)

    def metric(self, scorer: str, name: str, slice_: str = "all", value: str = "all"
               ) -> float:
        row = self.table[(self.table["scorer"] == scorer) & (self.table["slice"] == slice_)
                         & (self.table["value"] == value)]
        return float(row[name].iloc[0]) if len(row) else math.nan


def evaluate(rows: pd.DataFrame, scores: dict[str, np.ndarray],
             oracle: np.ndarray | None = None) -> Evaluation:
    """Compare scorers (name → probability per row of `rows`) overall and per slice."""
    y = rows["churned"].astype(bool).to_numpy(dtype=np.float64)
    arr = rows["arr"].astype("float64").to_numpy() if "arr" in rows else None
    slices: list[tuple[str, str, np.ndarray]] = [("all", "all", np.ones(len(rows), bool))]
    if "segment" in rows:
        segment = rows["segment"].astype("str").fillna("(none)")
        slices += [("segment", str(v), (segment == v).to_numpy())
                   for v in sorted(segment.unique())]
    if "days_to_renewal" in rows:
        bucket = dtr_bucket(rows["days_to_renewal"])
        slices += [("days_to_renewal", label, (bucket == label).to_numpy())
                   for _, _, label in DTR_BUCKETS]
    records = []
    for scorer, prob in scores.items():
        for slice_name, value, mask in slices:
            if not mask.any():
                continue
            metrics = evaluate_scores(y[mask], prob[mask], arr[mask] if arr is not None else None)
            records.append({"scorer": scorer, "slice": slice_name, "value": value,
                            "rows": int(mask.sum()), "churned": int(y[mask].sum()), **metrics})
    table = pd.DataFrame.from_records(records, columns=["scorer", "slice", "value", "rows",
                                                       "churned", *METRICS])
    oracle_auc = (evaluate_scores(y, oracle)["roc_auc"]
                  if oracle is not None and not np.isnan(oracle).any() else math.nan)
    return Evaluation(table, oracle_auc)


def backtest_summary(folds: list[Evaluation]) -> pd.DataFrame:
    """Mean and standard deviation over folds of each scorer's overall metrics."""
    overall = pd.concat(
        [f.table[(f.table["slice"] == "all")].assign(fold=i) for i, f in enumerate(folds)],
        ignore_index=True,
    )
    grouped = overall.groupby("scorer")[list(METRICS)]
    mean = grouped.mean().add_suffix("_mean")
    spread = grouped.std(ddof=0).add_suffix("_std")
    return pd.concat([mean, spread], axis=1).reset_index()
