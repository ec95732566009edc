"""Retention by signup cohort: how long accounts that started paying together keep paying.

A cohort is the accounts whose first term started in the same period (year or quarter).
Each account's lifetime runs from that first start until its first term that was not
renewed ends (the loss), or, when no loss is known yet, until the data stops telling:
the data's end, or the end of a term whose renewal is still undecided. Lifetimes cut
short that way are censored, and the curves are Kaplan-Meier estimates, so a cohort that
signed up last quarter does not look loyal just because nobody had time to leave.

Only accounts seen from their signup count: an account created before the data's history
starts is missing its early terms, and starting its clock at its first recorded term
would make old customers look like new ones that never churn.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
import pandas as pd

from features.point_in_time.terms import term_outcomes
from features.sources.loading import Sources

log = logging.getLogger(__name__)

DAYS_PER_MONTH = 365.25 / 12

CohortFreq = Literal["Y", "Q"]


def account_lifetimes(accounts: pd.DataFrame, subscriptions: pd.DataFrame,
                      data_end: pd.Timestamp, observed_from: pd.Timestamp,
                      grace_days: int = 30) -> pd.DataFrame:
    """One row per account seen from its signup, with how long it kept paying.

    Columns: account_id, signup (its first term's start), lost_at (end of its first term
    known not to renew, else NaT), observed_until (lost_at, or the last moment the data
    shows it paying), days (from signup to observed_until) and lost (True when the loss
    is known; False means censored). Accounts created before `observed_from`, and
    accounts without any term, are left out.
    """
    horizon = data_end + pd.Timedelta(days=1)
    terms = term_outcomes(subscriptions, data_end, grace_days)
    created = accounts.set_index("account_id")["created_at"]
    created_at = terms["account_id"].map(created)
    terms = terms[created_at.to_numpy() >= observed_from]
    if terms.empty:
        return _empty_lifetimes()
    by_account = terms.groupby("account_id", sort=True, observed=True)
    signup = by_account["start_date"].min()
    churned = terms[terms["churned"].fillna(False).astype(bool)]
    lost_at = churned.groupby("account_id", observed=True)["end_date"].min().reindex(
        signup.index)
    # Without a known loss the account paid at least until its latest term's end, or
    # until the data ends if that is sooner; beyond that nothing is known yet.
    paid_until = by_account["end_date"].max().clip(upper=horizon)
    observed_until = lost_at.fillna(paid_until)
    out = pd.DataFrame({
        "account_id": signup.index.astype(str),
        "signup": signup.to_numpy(),
        "lost_at": lost_at.to_numpy(),
        "observed_until": observed_until.to_numpy(),
    })
    out["days"] = (out["observed_until"] - out["signup"]).dt.total_seconds() / 86_400
    out["lost"] = out["lost_at"].notna()
    return out


def _empty_lifetimes() -> pd.DataFrame:
    stamp = pd.Series(dtype="datetime64[ns, UTC]")
    return pd.DataFrame({"account_id": pd.Series(dtype="str"), "signup": stamp,
                         "lost_at": stamp, "observed_until": stamp,
                         "days": pd.Series(dtype="float64"), "lost": pd.Series(dtype=bool)})


def kaplan_meier(days: np.ndarray, lost: np.ndarray, at: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Share still paying and accounts still at risk at each time of `at` (days).

    The product-limit estimate: at each loss time t, the share surviving is multiplied
    by 1 - losses at t / accounts observed up to t. An account censored at t still
    counts as at risk at t, the usual convention.
    """
    days = np.asarray(days, dtype=np.float64)
    lost = np.asarray(lost, dtype=bool)
    at = np.asarray(at, dtype=np.float64)
    ordered = np.sort(days)
    times = np.unique(days[lost])
    at_risk_then = len(days) - np.searchsorted(ordered, times, side="left")
    losses = np.array([np.count_nonzero(lost & (days == t)) for t in times], dtype=np.float64)
    survival = np.cumprod(1.0 - losses / at_risk_then)
    # survival[i] holds from times[i] on; before the first loss it is 1.
    step = np.searchsorted(times, at, side="right")
    curve = np.where(step > 0, np.r_[1.0, survival][step], 1.0)
    at_risk = len(days) - np.searchsorted(ordered, at, side="left")
    return curve, at_risk


def signup_cohort_retention(sources: Sources, freq: CohortFreq = "Y", grace_days: int = 30,
                            max_months: int = 36, min_at_risk: int = 10) -> pd.DataFrame:
    """Kaplan-Meier retention curves per signup cohort, month by month.

    One row per cohort and month since signup (0..max_months) with `accounts` (the
    cohort's size), `at_risk` (accounts still observed and paying then) and `retained`
    (the estimated share still paying). A curve stops where fewer than `min_at_risk`
    accounts remain observed: past that, one loss moves it by 10% or more.
    """
    lifetimes = account_lifetimes(sources.accounts, sources.subscriptions,
                                  sources.outcomes_known_through,
                                  sources.history_start(), grace_days)
    log.info("%d accounts seen from signup (created on or after %s)", len(lifetimes),
             sources.history_start().date())
    months = np.arange(max_months + 1)
    rows = []
    cohorts = lifetimes["signup"].dt.tz_localize(None).dt.to_period(freq).astype(str)
    for cohort, group in lifetimes.groupby(cohorts, sort=True):
        curve, at_risk = kaplan_meier(group["days"].to_numpy(), group["lost"].to_numpy(),
                                      months * DAYS_PER_MONTH)
        keep = at_risk >= min_at_risk
        rows.append(pd.DataFrame({"cohort": str(cohort), "months": months[keep],
                                  "accounts": len(group), "at_risk": at_risk[keep],
                                  "retained": curve[keep]}))
    if not rows:
        return pd.DataFrame({"cohort": pd.Series(dtype="str"),
                             "months": pd.Series(dtype="int64"),
                             "accounts": pd.Series(dtype="int64"),
                             "at_risk": pd.Series(dtype="int64"),
                             "retained": pd.Series(dtype="float64")})
    return pd.concat(rows, ignore_index=True)
