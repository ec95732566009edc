"""Business metrics of a simulated (or real) base, with their definitions spelled out.

* Annual gross logo churn (`annual_logo_churn`): churned terms per account-year at risk,
  i.e. ``sum(churned) / sum(term length in years)`` over *resolved* terms (those whose
  end + grace lies inside the data). A monthly term contributes 1/12 of an account-year
  and one chance to churn, an annual term one account-year, a two-year term two years
  and one chance. For small rates this is the yearly share of logos lost.
* Net revenue retention (`net_revenue_retention`): for anchor dates ``t`` on the first
  of each month with ``t + 365 + grace`` inside the data, the ARR a year later of the
  accounts paying at ``t``, divided by their ARR at ``t`` (pooled over anchors). An
  account's ARR on day ``d`` is that of its latest term starting by ``d + grace`` and
  ending after ``d``, so a late renewal in grace still counts; 0 once churned.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DAYS_PER_YEAR = 365.25


def annual_logo_churn(terms: pd.DataFrame, by: str | None = "segment") -> pd.Series:
    """Churned terms per account-year over resolved terms; ``terms`` as in `_truth/terms`."""
    resolved = terms[terms["churned"].notna()].copy()
    resolved["years"] = (resolved["end_date"] - resolved["start_date"]).dt.days / DAYS_PER_YEAR
    resolved["churned"] = resolved["churned"].astype(bool)
    if by is None:
        return pd.Series({"all": resolved["churned"].sum() / resolved["years"].sum()})
    grouped = resolved.groupby(by)
    return grouped["churned"].sum() / grouped["years"].sum()


def arr_on(subscriptions: pd.DataFrame, day: pd.Timestamp, grace_days: int = 30) -> pd.Series:
    """ARR per account on ``day`` (late renewals inside grace count as retained)."""
    grace = pd.Timedelta(days=grace_days)
    live = subscriptions[
        (subscriptions["start_date"] <= day + grace) & (subscriptions["end_date"] > day)
    ]
    latest = live.sort_values("start_date").groupby("account_id").tail(1)
    return latest.set_index("account_id")["arr"]


def net_revenue_retention(
    subscriptions: pd.DataFrame, data_end: pd.Timestamp, grace_days: int = 30
) -> float:
    """Pooled 12-month NRR over monthly anchors (see module docstring)."""
    first = subscriptions["start_date"].min().normalize()
    last_anchor = data_end - pd.Timedelta(days=365 + grace_days)
    anchors = pd.date_range(first, last_anchor, freq="MS", tz="UTC")
    start_arr = later_arr = 0.0
    for t in anchors:
        paying = subscriptions[(subscriptions["start_date"] <= t) & (subscriptions["end_date"] > t)]
        base = paying.groupby("account_id")["arr"].last()
        after = arr_on(subscriptions, t + pd.Timedelta(days=365), grace_days)
        start_arr += float(base.sum())
        later_arr += float(after.reindex(base.index).fillna(0.0).sum())
    return later_arr / start_arr if start_arr else float(np.nan)
