"""Contract terms and their outcomes: was each term renewed, and is that known yet?

A term is renewed when another term of the same account starts after it does and no
later than its grace after its end: a quarter of the term, from 7 days up to
`grace_days` (`sources.contract.renewal_grace_days`: 30 days on an annual term, 7 on a
monthly one, whose next invoice is due long before 30 days pass). The outcome is known
once the renewal has started or once the grace has passed within the data; before that
it is unknown (NA), never guessed. The label of the training spine and the retention figures of
`churnlens validate` both come from here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.sources.contract import renewal_grace_days


def term_outcomes(subscriptions: pd.DataFrame, data_end: pd.Timestamp,
                  grace_days: int = 30) -> pd.DataFrame:
    """One row per term with `renewed` (boolean, NA while unknown) and the next term's ARR.

    Columns: subscription_id, account_id, start_date, end_date, arr, next_start,
    next_arr, renewed, churned, resolved_at (when the outcome became known).
    """
    terms = (subscriptions[["subscription_id", "account_id", "start_date", "end_date", "arr"]]
             .sort_values(["account_id", "start_date", "subscription_id"], kind="stable")
             .reset_index(drop=True))
    deadline = grace_ends(terms, grace_days)
    same_account = terms["account_id"].eq(terms["account_id"].shift(-1))
    next_start = terms["start_date"].shift(-1).where(same_account)
    next_arr = terms["arr"].shift(-1).where(same_account)
    renewed_in_grace = next_start.notna() & (next_start <= deadline)
    horizon = data_end + pd.Timedelta(days=1)
    known = renewed_in_grace | (deadline <= horizon)
    renewed = pd.Series(renewed_in_grace.to_numpy(), dtype="boolean").where(known.to_numpy())
    terms["next_start"] = next_start.where(renewed_in_grace)
    terms["next_arr"] = next_arr.where(renewed_in_grace).fillna(0.0).where(known)
    terms["renewed"] = renewed
    terms["churned"] = ~renewed
    terms["resolved_at"] = (terms["next_start"].clip(lower=terms["start_date"])
                            .where(renewed_in_grace, deadline).where(known))
    terms["grace_end"] = deadline
    return terms


def grace_ends(terms: pd.DataFrame, grace_days: int) -> pd.Series:
    """Each term's end plus its grace (`sources.contract.renewal_grace_days`)."""
    length = (terms["end_date"] - terms["start_date"]).dt.days.to_numpy()
    grace = renewal_grace_days(length, grace_days)
    return terms["end_date"] + pd.to_timedelta(grace, unit="D")


def arr_at(terms: pd.DataFrame, moment: pd.Timestamp, grace_days: int = 30) -> pd.Series:
    """Each account's ARR at `moment`: its latest-started live term, zero when none.

    A term stays live through its grace period unless it is known to have churned, so a
    late renewal does not show as churn and recovery.
    """
    started = terms["start_date"] <= moment
    in_term = moment < terms["end_date"]
    known_churn = terms["churned"].fillna(False).astype(bool)
    grace_end = terms["grace_end"] if "grace_end" in terms else grace_ends(terms, grace_days)
    in_grace = (moment < grace_end) & ~known_churn
    live = terms[started & (in_term | in_grace)]
    latest = live.sort_values("start_date").groupby("account_id", observed=True).tail(1)
    return latest.set_index("account_id")["arr"]


def settled_outcomes(subscriptions: pd.DataFrame, data_end: pd.Timestamp,
                     grace_days: int = 30) -> pd.DataFrame:
    """`term_outcomes` as a training label: known only once the grace period has passed.

    A renewal that has already started is a fact, but labelling such terms while their
    churned peers (same end date, no renewal yet) stay unknown would bias the latest
    snapshots toward renewal. So every term resolves when its grace ends, renewed or not,
    and is unknown (NA) until that moment is within the data (PRODUCT.md).
    """
    terms = term_outcomes(subscriptions, data_end, grace_days)
    deadline = terms["grace_end"]
    settled = (deadline <= data_end + pd.Timedelta(days=1)).to_numpy()
    terms["renewed"] = terms["renewed"].where(settled)
    terms["churned"] = terms["churned"].where(settled)
    terms["resolved_at"] = deadline.where(settled)
    return terms


def quarter_of(as_of: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp]:
    """[start, end) of the calendar quarter holding the last day before `as_of`.

    `as_of` is exclusive (records strictly before it are known), so a run as of
    1 January reports on the quarter that just ended, not on one with no days yet.
    """
    last_day = pd.Timestamp(as_of).normalize() - pd.Timedelta(days=1)
    start = last_day.replace(month=3 * ((last_day.month - 1) // 3) + 1, day=1)
    return start, start + pd.DateOffset(months=3)


def quarter_renewals(subscriptions: pd.DataFrame, as_of: pd.Timestamp,
                     grace_days: int = 30,
                     known_through: pd.Timestamp | None = None) -> pd.DataFrame:
    """Each account's renewal due in the quarter of `as_of` and its outcome as known then.

    One row per account whose term ends in `quarter_of(as_of)` (an account on monthly
    terms has several; the latest counts, so its ARR is counted once): subscription_id,
    account_id, renewal_date (the term's end), arr, and `outcome` — "renewed" once the
    next term has started, "churned" once the grace period passed without one, else
    "open". Only terms that started before `as_of` are known at `as_of`, and outcomes
    only through `known_through` when the subscriptions end earlier
    (`Sources.outcomes_known_through`): a renewal the export missed stays open.
    """
    moment = pd.Timestamp(as_of)
    known = subscriptions[subscriptions["start_date"] < moment]
    horizon = moment - pd.Timedelta(days=1)
    if known_through is not None:
        horizon = min(horizon, pd.Timestamp(known_through))
    terms = term_outcomes(known, horizon, grace_days)
    start, end = quarter_of(moment)
    due = terms[(terms["end_date"] >= start) & (terms["end_date"] < end)]
    latest = (due.sort_values(["account_id", "end_date", "start_date"], kind="stable")
              .groupby("account_id", sort=False).tail(1))
    outcome = np.select([latest["renewed"].eq(True).fillna(False).to_numpy(dtype=bool),
                         latest["churned"].eq(True).fillna(False).to_numpy(dtype=bool)],
                        ["renewed", "churned"], default="open")
    return pd.DataFrame({
        "subscription_id": latest["subscription_id"].to_numpy(),
        "account_id": latest["account_id"].to_numpy(),
        "renewal_date": latest["end_date"].to_numpy(),
        "arr": latest["arr"].to_numpy(dtype=np.float64),
        "outcome": outcome,
    }).sort_values(["renewal_date", "account_id"], kind="stable").reset_index(drop=True)
