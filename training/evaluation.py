"""Side-by-side evaluation of the model and its baselines on the same out-of-time rows.

Every metric is given overall, per segment and per days-to-renewal bucket, because a
model that is good on average can still be useless for the accounts renewing next
quarter, the ones CSMs can still save.

On simulated data two oracles rank the same rows by a true churn probability. The
oracle *at as_of* uses the risk given everything the simulator knew before the snapshot
date: the best any model could do, so the model's gap to it is the gap that matters.
The oracle *at decision* uses the probability at the renewal decision, which reads
health and shocks of the months after the snapshot: no model at as_of can reach it, and
its gap mixes what the model misses with what nobody could know yet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from training.metrics import METRICS, evaluate_scores

DTR_BUCKETS = ((0, 90, "0-90"), (91, 180, "91-180"), (181, 100_000, "181+"))
# Oracle name -> how every output labels it.
ORACLES = {"as_of": "oracle at as_of",
           "at_decision": "oracle at decision (knows the future)"}
ORACLE_COLUMNS = ["oracle", "slice", "value", "rows", "roc_auc"]


def dtr_bucket(days_to_renewal: pd.Series) -> pd.Series:
    """Days-to-renewal buckets 0-90, 91-180 and 181+ (days rounded down)."""
    days = days_to_renewal.astype("float64").to_numpy()
    out = np.full(len(days), "unknown", dtype=object)
    for low, high, label in DTR_BUCKETS:
        out[(days >= low) & (days <= high)] = label
    return pd.Series(out, index=days_to_renewal.index)


@dataclass
class Evaluation:
    """Metrics per scorer and slice: a long table with one row per (scorer, slice, value).

    `oracles` holds the oracles' ROC AUC per slice (columns `ORACLE_COLUMNS`), empty
    when the data has no truth.
    """

    table: pd.DataFrame  # columns: scorer, slice, value, rows, churned, <METRICS>
    notes: list[str] = field(default_factory=list)
    oracles: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=ORACLE_COLUMNS))

    def metric(self, scorer: str, name: str, slice_: str = "all", value: str = "all"
               ) -> float:
        row = self.table[(self.table["scorer"] == scorer) & (self.table["slice"] == slice_)
                         & (self.table["value"] == value)]
        return float(row[name].iloc[0]) if len(row) else math.nan

    def oracle(self, name: str, slice_: str = "all", value: str = "all") -> float:
        """ROC AUC of oracle `name` (a key of `ORACLES`) on a slice; NaN when unknown."""
        o = self.oracles
        row = o[(o["oracle"] == name) & (o["slice"] == slice_) & (o["value"] == value)]
        return float(row["roc_auc"].iloc[0]) if len(row) else math.nan

    @property
    def oracle_auc_as_of(self) -> float:
        return self.oracle("as_of")

    @property
    def oracle_auc_at_decision(self) -> float:
        return self.oracle("at_decision")

    @property
    def oracle_auc(self) -> float:
        """The bound the model is judged against: the oracle at as_of when the truth has
        it, else the one at decision (older simulated data). Outputs name which."""
        as_of = self.oracle_auc_as_of
        return as_of if math.isfinite(as_of) else self.oracle_auc_at_decision

    def oracle_metrics(self) -> dict[str, float]:
        """Both oracles' overall ROC AUC under explicit names, for MLflow."""
        out = {f"test.oracle_{name}.roc_auc": self.oracle(name) for name in ORACLES}
        return {k: v for k, v in out.items() if math.isfinite(v)}


def _slices(rows: pd.DataFrame) -> list[tuple[str, str, np.ndarray]]:
    """(slice, value, row mask): everything, each segment, each days-to-renewal bucket."""
    slices: list[tuple[str, str, np.ndarray]] = [("all", "all", np.ones(len(rows), bool))]
    if "segment" in rows:
        segment = rows["segment"].astype("str").fillna("(none)")
        slices += [("segment", str(v), (segment == v).to_numpy())
                   for v in sorted(segment.unique())]
    if "days_to_renewal" in rows:
        bucket = dtr_bucket(rows["days_to_renewal"])
        slices += [("days_to_renewal", label, (bucket == label).to_numpy())
                   for _, _, label in DTR_BUCKETS]
    return slices


def evaluate(rows: pd.DataFrame, scores: dict[str, np.ndarray],
             oracle: np.ndarray | None = None, oracle_as_of: np.ndarray | None = None
             ) -> Evaluation:
    """Compare scorers (name → probability per row of `rows`) overall and per slice.

    `oracle` is each row's true churn probability at the renewal decision, `oracle_as_of`
    the true risk at the row's as_of; an oracle with a missing value on any row is left
    out rather than judged on other rows than the scorers.
    """
    y = rows["churned"].astype(bool).to_numpy(dtype=np.float64)
    arr = rows["arr"].astype("float64").to_numpy() if "arr" in rows else None
    slices = _slices(rows)
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
    truths = {"as_of": oracle_as_of, "at_decision": oracle}
    oracle_records = [
        {"oracle": name, "slice": slice_name, "value": value, "rows": int(mask.sum()),
         "roc_auc": evaluate_scores(y[mask], p[mask])["roc_auc"]}
        for name, p in truths.items() if p is not None and not np.isnan(p).any()
        for slice_name, value, mask in slices if mask.any()
    ]  # fmt: skip
    return Evaluation(table, oracles=pd.DataFrame.from_records(oracle_records,
                                                               columns=ORACLE_COLUMNS))


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
