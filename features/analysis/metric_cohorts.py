"""The "metric cohort" view: churn rate by decile of one health signal, and redundant signals.

Before trusting a model, a data scientist checks each signal on its own: sort the
labelled snapshots by the signal, cut them into ten equal-sized groups, and look at the
churn rate of each. A signal worth having shows a clear slope from the lowest group to
the highest; a flat line means it says little alone. Rows where the signal is missing
(no NPS answer yet, no seats known) get their own group, because "never answered" is
often a signal in itself. Pairs of signals that move almost together are listed too:
they split the model's credit between them and make its reasons harder to read.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd

DECILE_COLUMNS = ("bucket", "low", "high", "rows", "churned", "churn_rate")


def churn_rate_by_decile(frame: pd.DataFrame, signal: str, label: str = "churned",
                         buckets: int = 10) -> pd.DataFrame:
    """Churn rate of the labelled rows per equal-count bucket of `signal`.

    Returns one row per bucket, lowest values first, with `bucket` (1..n), the signal's
    `low` and `high` in it, `rows`, `churned` and `churn_rate`; then, when some rows
    lack the signal, one row with `bucket` NA for them. Tied values always share a
    bucket, so a signal that is mostly zero (open tickets, say) gives fewer, larger
    buckets rather than an arbitrary split of the zeros.
    """
    labelled = frame[frame[label].notna()]
    values = pd.to_numeric(labelled[signal], errors="raise").astype("float64")
    churned = labelled[label].astype(bool).to_numpy()
    present = values.notna().to_numpy()
    rows = []
    if present.any():
        edges = np.unique(np.quantile(values[present].to_numpy(),
                                      np.linspace(0, 1, buckets + 1)))
        # Equal-count cut points, then every tied value goes where its first copy went.
        which = np.searchsorted(edges[1:-1], values[present].to_numpy(), side="right")
        known = values[present].to_numpy()
        hits = churned[present]
        for number, code in enumerate(np.unique(which), start=1):
            mask = which == code
            # `+ 0.0` turns a stored -0.0 into 0.0, which reads better on an axis.
            rows.append({"bucket": number, "low": float(known[mask].min()) + 0.0,
                         "high": float(known[mask].max()) + 0.0, "rows": int(mask.sum()),
                         "churned": int(hits[mask].sum()),
                         "churn_rate": float(hits[mask].mean())})
    if (~present).any():
        hits = churned[~present]
        rows.append({"bucket": pd.NA, "low": np.nan, "high": np.nan,
                     "rows": int((~present).sum()), "churned": int(hits.sum()),
                     "churn_rate": float(hits.mean())})
    out = pd.DataFrame.from_records(rows, columns=list(DECILE_COLUMNS))
    out["bucket"] = out["bucket"].astype("Int64")
    return out


def correlated_signals(frame: pd.DataFrame, features: Sequence[str],
                       threshold: float = 0.8) -> pd.DataFrame:
    """Pairs of features whose Spearman correlation is at least `threshold` in size.

    Spearman (rank) correlation, because usage counts are heavily skewed and a few huge
    accounts would dominate a Pearson coefficient. Each pair is computed on the rows
    where both are present. Columns: feature, other, rho; strongest first.
    """
    numeric = frame[list(features)].apply(pd.to_numeric, errors="raise").astype("float64")
    rho = numeric.corr(method="spearman")
    pairs = [
        {"feature": a, "other": b, "rho": float(rho.at[a, b])}
        for a, b in itertools.combinations(rho.columns, 2)
        if pd.notna(rho.at[a, b]) and abs(rho.at[a, b]) >= threshold
    ]
    out = pd.DataFrame.from_records(pairs, columns=["feature", "other", "rho"])
    order = out["rho"].abs().sort_values(ascending=False, kind="stable").index
    return out.loc[order].reset_index(drop=True)
