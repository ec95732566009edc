"""Contract and firmographic features, all read from the term active at as_of.

Plan, seats, ARR and auto-renewal come from the current term, never from the account's
latest row, so a snapshot never sees a later upsell. Segment, industry and region are
static firmographics from `accounts`; the CSM owner is deliberately not a feature (it
describes who looks after the account, and changes with churn handling itself).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.point_in_time.spine import Spine, timestamps_ns
from features.sources.contract import DAY_NS

FIRMOGRAPHICS = ("segment", "industry", "region")


def compute(spine: Spine, subscriptions: pd.DataFrame, accounts: pd.DataFrame
            ) -> pd.DataFrame:
    terms = (subscriptions
             .sort_values(["account_id", "start_date", "subscription_id"], kind="stable")
             .reset_index(drop=True))
    same_account = terms["account_id"].eq(terms["account_id"].shift())
    terms["renewals_so_far"] = terms.groupby("account_id", sort=False).cumcount()
    terms["previous_arr"] = terms["arr"].shift().where(same_account)
    terms["previous_seats"] = terms["seats"].shift().where(same_account)
    first_start = terms.groupby("account_id", sort=False)["start_date"].min()
    current = terms.set_index("subscription_id").reindex(
        pd.Index(spine.frame["subscription_id"])).reset_index(drop=True)

    as_of = spine.as_of_ns
    start = timestamps_ns(current["start_date"])
    end = timestamps_ns(current["end_date"])
    first = timestamps_ns(first_start.reindex(pd.Index(spine.frame["account_id"])))
    arr = current["arr"].to_numpy(dtype=np.float64)
    previous = current["previous_arr"].to_numpy(dtype=np.float64)
    seats = current["seats"].to_numpy(dtype=np.float64, na_value=np.nan)
    previous_seats = current["previous_seats"].to_numpy(dtype=np.float64, na_value=np.nan)
    firmographics = accounts.set_index("account_id").reindex(
        pd.Index(spine.frame["account_id"]))
    out = pd.DataFrame({
        "tenure_days": (as_of - first) / DAY_NS,
        "days_to_renewal": (end - as_of) / DAY_NS,
        "term_length_days": (end - start) / DAY_NS,
        "arr": arr,
        "seats": seats,
        "arr_change_ratio": _change(arr, previous),
        "seat_change_ratio": _change(seats, previous_seats),
        "renewals_so_far": current["renewals_so_far"].to_numpy(),
        "auto_renew": current["auto_renew"].astype("Float64").to_numpy(
            dtype=np.float64, na_value=np.nan),
    })
    out["plan"] = current["plan"].reset_index(drop=True)
    for column in FIRMOGRAPHICS:
        out[column] = firmographics[column].reset_index(drop=True)
    return out


def _change(now: np.ndarray, before: np.ndarray) -> np.ndarray:
    """``now / before`` where the earlier term had a positive value, else missing."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(before > 0, now / np.where(before > 0, before, 1.0), np.nan)
