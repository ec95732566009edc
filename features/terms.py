"""Contract terms and their outcomes: was each term renewed, and is that known yet?

A term is renewed when another term of the same account starts after it does and no
later than `grace_days` after its end. The outcome is known once the renewal has started
or once `end_date + grace_days` is on or before the data's end; before that it is
unknown (NA), never guessed. The label of the training spine and the retention figures of
`churnlens validate` both come from here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def term_outcomes(subscriptions: pd.DataFrame, data_end: pd.Timestamp,
                  grace_days: int = 30) -> pd.DataFrame:
    """One row per term with `renewed` (boolean, NA while unknown) and the next term's ARR.

    Columns: subscription_id, account_id, start_date, end_date, arr, next_start,
    next_arr, renewed, churned, resolved_at (when the outcome became known).
    """
    grace = pd.Timedelta(days=grace_days)
    terms = (subscriptions[["subscription_id", "account_id", "start_date", "end_date", "arr"]]
             .sort_values(["account_id", "start_date", "subscription_id"], kind="stable")
             .reset_index(drop=True))
    same_account = terms["account_id"].eq(terms["account_id"].shift(-1))
    next_start = terms["start_date"].shift(-1).where(same_account)
    next_arr = terms["arr"].shift(-1).where(same_account)
    renewed_in_grace = next_start.notna() & (next_start <= terms["end_date"] + grace)
    deadline = terms["end_date"] + grace
    horizon = data_end + pd.Timedelta(days=1)
    known = renewed_in_grace | (deadline <= horizon)
    renewed = pd.Series(renewed_in_grace.to_numpy(), dtype="boolean").where(known.to_numpy())
    terms["next_start"] = next_start.where(renewed_in_grace)
    terms["next_arr"] = next_arr.where(renewed_in_grace).fillna(0.0).where(known)
    terms["renewed"] = renewed
    terms["churned"] = ~renewed
    terms["resolved_at"] = pd.Series(
        np.where(renewed_in_grace, terms["next_start"].clip(lower=terms["start_date"]),
                 deadline), dtype=terms["end_date"].dtype
    ).where(known)
    return terms


def arr_at(terms: pd.DataFrame, moment: pd.Timestamp, grace_days: int = 30) -> pd.Series:
    """Each account's ARR at `moment`: its latest-started live term, zero when none.

    A term stays live through its grace period unless it is known to have churned, so a
    late renewal does not show as churn and recovery.
    """
    grace = pd.Timedelta(days=grace_days)
    started = terms["start_date"] <= moment
    in_term = moment < terms["end_date"]
    known_churn = terms["churned"].fillna(False).astype(bool)
    in_grace = (moment < terms["end_date"] + grace) & ~known_churn
    live = terms[started & (in_term | in_grace)]
    latest = live.sort_values("start_date").groupby("account_id", observed=True).tail(1)
    return latest.set_index("account_id")["arr"]


def settled_outcomes(subscriptions: pd.DataFrame, data_end: pd.Timestamp,
                     grace_days: int = 30) -> pd.DataFrame:
    """`term_outcomes` as a training label: known only once the grace period has passed.

    A renewal that has already started is a fact, but labelling such terms while their
    churned peers (same end date, no renewal yet) stay unknown would bias the latest
    snapshots toward renewal. So every term resolves at `end_date + grace_days`, renewed
    or not, and is unknown (NA) until that moment is within the data (PRODUCT.md).
    """
    terms = term_outcomes(subscriptions, data_end, grace_days)
    deadline = terms["end_date"] + pd.Timedelta(days=grace_days)
    settled = (deadline <= data_end + pd.Timedelta(days=1)).to_numpy()
    terms["renewed"] = terms["renewed"].where(settled)
    terms["churned"] = terms["churned"].where(settled)
    terms["resolved_at"] = deadline.where(settled)
    return terms
